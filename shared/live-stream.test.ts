import { describe, expect, it } from "vitest";
import { type FollowStreamOptions, followEventStream } from "./live-stream.ts";
import type { SseEvent } from "./sse.ts";

/** A stream that sends `chunks` and then ends, or stays open (as a live one does) when `hang`. */
function stream(chunks: string[], hang = false): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      if (!hang) controller.close();
    },
  });
}

const status = (s: string) => `event: status\ndata: {"status":"${s}"}\n\n`;
const merge = (id: number, text: string) => `id: ${id}\nevent: segments\ndata: {"segments":[{"start_sec":${id},"end_sec":${id + 1},"text":"${text}"}]}\n\n`;

class Refused extends Error {
  constructor(readonly kind: "retry" | "fatal" | "unavailable") {
    super(kind);
  }
}

/** Runs the follower over scripted connections: each entry is what one open answers. */
async function run(connections: Array<ReadableStream<Uint8Array> | Refused>, extra: Partial<FollowStreamOptions> = {}) {
  const opened: Array<string | null> = [];
  const slept: number[] = [];
  const events: SseEvent[] = [];
  let drops = 0;
  const outcome = await followEventStream({
    open: async (lastEventId) => {
      opened.push(lastEventId);
      const next = connections.shift();
      if (!next) throw new Error("no more connections scripted");
      if (next instanceof Refused) throw next;
      return next;
    },
    classify: (e) => (e instanceof Refused ? e.kind : "fatal"),
    onEvent: (e) => events.push(e),
    onDrop: () => drops++,
    backoff: { baseMs: 100, capMs: 1000, random: () => 1 },
    sleep: async (ms) => void slept.push(ms),
    ...extra,
  });
  return { outcome, opened, slept, events, drops };
}

describe("followEventStream", () => {
  it("follows to the final status, resuming after the last id each time the stream drops", async () => {
    const r = await run([
      stream(["retry: 50\n\n", status("running"), merge(1, "a"), merge(2, "b")]),
      stream([status("running"), merge(3, "c")]),
      stream([status("running"), merge(4, "d"), status("completed")]),
    ]);
    expect(r.outcome).toEqual({ kind: "ended", status: "completed", backlogMissing: false });
    expect(r.opened).toEqual([null, "2", "3"]);
    // After a drop that had brought something: the server's retry delay, not the backoff.
    expect(r.slept).toEqual([50, 50]);
    expect(r.drops).toBe(2);
    expect(r.events.filter((e) => e.event === "segments").map((e) => e.id)).toEqual(["1", "2", "3", "4"]);
  });

  it("backs off while the stream cannot open, and gives up after the attempts allowed", async () => {
    const ok = await run([new Refused("retry"), new Refused("retry"), stream([status("completed")])], { lastEventId: "9" });
    expect(ok.slept).toEqual([100, 200]);
    expect(ok.opened).toEqual(["9", "9", "9"]);
    await expect(run([stream([status("running"), merge(1, "a")]), new Refused("retry"), new Refused("retry")], { attempts: 2 })).rejects.toThrow("retry");
    await expect(run([new Refused("fatal")])).rejects.toThrow("fatal");
  });

  it("says the stream is unavailable when it never opened (an older server), so that the caller polls", async () => {
    expect((await run([new Refused("unavailable")])).outcome.kind).toBe("unavailable");
    // Never having delivered anything, a stream that cannot open at all counts as unavailable too.
    expect((await run([new Refused("retry"), new Refused("retry")], { attempts: 2 })).outcome.kind).toBe("unavailable");
    // Once it has worked, "no such stream" is the job gone: an error.
    await expect(run([stream([status("running"), merge(1, "a")]), new Refused("unavailable")])).rejects.toThrow("unavailable");
  });

  it("flags a connection whose first event is already the end: what came before it must be read whole", async () => {
    const r = await run([stream([status("running"), merge(1, "a")]), stream([status("completed")])]);
    expect(r.outcome).toEqual({ kind: "ended", status: "completed", backlogMissing: true });
    // A server that sends the backlog after such a status is read to its close instead.
    const full = await run([stream([status("completed"), merge(1, "a"), status("completed")])]);
    expect(full.outcome).toEqual({ kind: "ended", status: "completed", backlogMissing: false });
    expect(full.events.map((e) => e.event)).toEqual(["status", "segments", "status"]);
  });

  it("takes a silent stream for dead and reopens it; an abort stops it", async () => {
    const r = await run([stream([status("running"), merge(1, "a")], true), stream([status("failed")])], { idleMs: 30 });
    expect(r.outcome).toMatchObject({ kind: "ended", status: "failed" });
    expect(r.opened).toEqual([null, "1"]);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 30);
    const aborted = await run([stream([status("running")], true)], { signal: abort.signal });
    expect(aborted.outcome).toEqual({ kind: "aborted" });
  });
});
