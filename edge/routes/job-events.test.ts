import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Task } from "../../shared/protocol.ts";
import { seg } from "../job/job-fixtures.ts";
import { BASE, call, KEY_A, KEY_B, submit } from "../test-helpers.ts";
import { claimFor, planned, post } from "./machine-test-helpers.ts";

interface SseEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** A client of the stream: reads events one by one, as a browser's EventSource would. */
async function open(jobId: string, opts: { key?: string; lastEventId?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.key ?? KEY_A}`, accept: "text/event-stream" };
  if (opts.lastEventId !== undefined) headers["last-event-id"] = opts.lastEventId;
  const response = await SELF.fetch(`${BASE}/v1/transcriptions/${jobId}/events`, { headers });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let ended = false;
  const next = async (ms = 5000): Promise<SseEvent | null> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const cut = buffer.indexOf("\n\n");
      if (cut >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const fields = Object.fromEntries(
          block
            .split("\n")
            .filter((l) => l && !l.startsWith(":"))
            .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trimStart()]),
        );
        if (!fields.data) continue; // retry:, keep-alive, or an id alone
        return { ...(fields.id !== undefined ? { id: fields.id } : {}), event: fields.event ?? "message", data: JSON.parse(fields.data) };
      }
      if (ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${ms} ms; buffered: ${JSON.stringify(buffer)}`);
      const read = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
      if (read === null) continue;
      if (read.done) ended = true;
      else buffer += decoder.decode(read.value, { stream: true });
    }
  };
  /** Events until one of `event` (inclusive). */
  const until = async (event: string): Promise<SseEvent[]> => {
    const seen: SseEvent[] = [];
    for (;;) {
      const e = await next();
      if (!e) throw new Error(`the stream ended before a ${event} event: ${JSON.stringify(seen)}`);
      seen.push(e);
      if (e.event === event) return seen;
    }
  };
  return { response, next, until, cancel: () => reader.cancel() };
}

const texts = (events: SseEvent[]) =>
  events.filter((e) => e.event === "segments").flatMap((e) => (e.data.segments as Array<{ text: string }>).map((s) => s.text));

async function twoRanges() {
  const { id } = await planned([
    [0, 60],
    [60, 120],
  ]);
  const a = await claimFor(id, "range");
  const b = await claimFor(id, "range");
  const [r0, r1] = a.kind === "range" && a.range_index === 0 ? [a, b] : [b, a];
  return { id, r0: r0!, r1: r1! };
}

const say = (t: Task, seq: number, segments: ReturnType<typeof seg>[], done = 10) => post(t, "segments", { seq, segments, audio_sec_done: done });

describe("live events (server-sent)", () => {
  it("sends status and progress, then each merge in order with its id, and ends after completed", async () => {
    const { id, r0, r1 } = await twoRanges();
    const stream = await open(id);
    expect(stream.response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect((await stream.next())!).toMatchObject({ event: "status", data: { status: "running" } });
    expect((await stream.next())!).toMatchObject({ event: "progress", data: { ranges_total: 2 } });
    await say(r0, 0, [seg(1, 5, "one"), seg(6, 9, "two")]);
    const first = await stream.until("segments");
    await say(r1, 0, [seg(61, 65, "three")]);
    const second = await stream.until("segments");
    expect(texts([...first, ...second])).toEqual(["one", "two", "three"]);
    const ids = [first.at(-1)!.id, second.at(-1)!.id].map(Number);
    expect(ids[1]).toBeGreaterThan(ids[0]!);
    expect(second.some((e) => e.event === "progress") || (await stream.next())?.event === "progress").toBe(true);
    await post(r0, "complete", { machine_sec: 1 });
    await post(r1, "complete", { machine_sec: 1 });
    const rest = await stream.until("status");
    expect(rest.at(-1)).toMatchObject({ event: "status", data: { status: "completed" } });
    expect(await stream.next()).toBeNull(); // the stream ended
  });

  it("a late client gets the transcript so far first; a resumed one neither skips nor repeats across a range completing", async () => {
    const { id, r0, r1 } = await twoRanges();
    await say(r0, 0, [seg(1, 5, "one")]);
    await say(r1, 0, [seg(61, 65, "four")]);
    const late = await open(id);
    const snapshot = await late.until("segments");
    expect(texts(snapshot)).toEqual(["one", "four"]);
    const mark = snapshot.at(-1)!.id!;
    await late.cancel();

    // While nobody watches: more of range 0, range 0 completes, range 1 goes on.
    await say(r0, 1, [seg(6, 9, "two"), seg(10, 12, "three")], 60);
    await post(r0, "complete", { machine_sec: 1 });
    await say(r1, 1, [seg(66, 70, "five")], 30);

    const resumed = await open(id, { lastEventId: mark });
    const got: SseEvent[] = [];
    while (texts(got).length < 3) got.push(...(await resumed.until("segments")));
    expect(texts(got)).toEqual(["two", "three", "five"]);
    // Live from here: one more, once.
    await say(r1, 2, [seg(71, 75, "six")], 60);
    const live = await resumed.until("segments");
    expect(texts(live)).toEqual(["six"]);
    await resumed.cancel();
  });

  it("announces a replacement when a range is redone, then the redo's segments", async () => {
    const { id, r0 } = await twoRanges();
    await say(r0, 0, [seg(1, 5, "first try")]);
    const stream = await open(id);
    expect(texts(await stream.until("segments"))).toEqual(["first try"]);
    // The machine gives the range back; the next attempt starts it over.
    expect((await post(r0, "fail", { retryable: true, code: "machine_shutdown", message: "SIGTERM" })).status).toBe(200);
    const again = await claimFor(id, "range");
    expect(again).toMatchObject({ range_index: 0, attempt: 2 });
    const replaced = await stream.until("replace");
    expect(replaced.at(-1)).toMatchObject({ event: "replace", data: { range_index: 0, start_sec: 0, end_sec: 60 } });
    expect(Number(replaced.at(-1)!.id)).toBeGreaterThan(0);
    await say(again, 0, [seg(1, 5, "second try")]);
    expect(texts(await stream.until("segments"))).toEqual(["second try"]);
    await stream.cancel();
  });

  it("ends after failed and after canceled, and another key gets 404", async () => {
    const { id } = await submit({});
    const other = await SELF.fetch(`${BASE}/v1/transcriptions/${id}/events`, { headers: { authorization: `Bearer ${KEY_B}` } });
    expect(other.status).toBe(404);
    await other.body?.cancel();
    const bad = await SELF.fetch(`${BASE}/v1/transcriptions/${id}/events?last_event_id=abc`, { headers: { authorization: `Bearer ${KEY_A}` } });
    expect(bad.status).toBe(400);
    await bad.body?.cancel();

    const stream = await open(id);
    expect((await stream.next())!.data).toEqual({ status: "queued" });
    expect((await call("POST", `/v1/transcriptions/${id}/cancel`)).status).toBe(200);
    expect((await stream.until("status")).at(-1)!.data).toEqual({ status: "canceled" });
    expect(await stream.next()).toBeNull();

    const failing = await submit({});
    const plan = await claimFor(failing.id, "plan");
    const watch = await open(failing.id);
    await watch.until("progress");
    await post(plan, "fail", { retryable: false, code: "not_media", message: "not audio" });
    expect((await watch.until("status")).at(-1)!.data).toMatchObject({ status: "failed", error: { code: "not_media" } });
    expect(await watch.next()).toBeNull();

    // A finished job's stream: everything, then its final status, then the end.
    const done = await open(id);
    expect((await done.until("status")).at(-1)!.data).toEqual({ status: "canceled" });
    expect((await done.until("status")).at(-1)!.data).toEqual({ status: "canceled" });
    expect(await done.next()).toBeNull();
  });
});

describe("live events of a job that has ended", () => {
  it("still sends its whole transcript, fresh or resumed, before its final status", async () => {
    const { id, r0, r1 } = await twoRanges();
    await say(r0, 0, [seg(1, 5, "one")]);
    const early = await open(id);
    const mark = (await early.until("segments")).at(-1)!.id!;
    await early.cancel();
    await say(r1, 0, [seg(61, 65, "two")]);
    await post(r0, "complete", { machine_sec: 1 });
    await post(r1, "complete", { machine_sec: 1 });

    const fresh = await open(id);
    const all = await fresh.until("segments");
    expect(all[0]).toMatchObject({ event: "status", data: { status: "completed" } });
    expect(texts(all)).toEqual(["one", "two"]);
    expect((await fresh.until("status")).at(-1)!.data).toEqual({ status: "completed" });
    expect(await fresh.next()).toBeNull();

    const resumed = await open(id, { lastEventId: mark });
    const rest: SseEvent[] = [];
    for (let e = await resumed.next(); e; e = await resumed.next()) rest.push(e);
    expect(texts(rest)).toEqual(["two"]);
    expect(rest.at(-1)).toMatchObject({ event: "status", data: { status: "completed" } });
  });
});
