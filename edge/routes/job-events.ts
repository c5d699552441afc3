import type { Context } from "hono";
import { FINAL_STATUSES, type TranscriptionJob } from "../../shared/api.ts";
import type { AppEnv } from "../app-env.ts";
import { ApiError, unwrap } from "../errors.ts";
import type { SegmentKey } from "../job/job-store.ts";
import type { LiveEvent } from "../job/live-events.ts";
import { jobStub } from "../job-stubs.ts";

/** Proxies close idle streams; a comment this often keeps one open. */
const KEEPALIVE_MS = 15_000;
/** Merge-log entries, and transcript segments, read per call while catching up. */
const CATCH_UP_ENTRIES = 200;
const SNAPSHOT_SEGMENTS = 500;

/**
 * GET /v1/transcriptions/:id/events: the job's live events as server-sent
 * events. A WebSocket to the job object (hibernatable, so watching costs the
 * object nothing between events) carries what happens from now on; what
 * happened before is read in pages: the transcript so far for a new client,
 * the merge log after `Last-Event-ID` for a resuming one. Events with an id
 * already written are dropped, so the two never overlap.
 */
export async function jobEvents(c: Context<AppEnv>): Promise<Response> {
  const id = c.req.param("id")!;
  const owner = c.get("keyId");
  const resumeFrom = lastEventId(c.req.header("last-event-id") ?? c.req.query("last_event_id"));
  const stub = jobStub(c.env, id);
  const job = unwrap(await stub.get(owner));
  // Live first, then the backlog: nothing merged in between is missed.
  const upgrade = await stub.fetch(new Request("https://job/events", { headers: { upgrade: "websocket", "x-owner": owner } }));
  const socket = upgrade.webSocket;
  if (!socket) throw new ApiError(404, "not_found", "no such transcription");
  socket.accept();

  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let written = resumeFrom ?? -1;
  let closed = false;
  let caughtUp = false;
  const pending: LiveEvent[] = [];

  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    try {
      socket.close(1000, "stream ended");
    } catch {
      // already closed
    }
    writer.close().catch(() => undefined);
  };
  const write = async (text: string) => {
    if (closed) return;
    try {
      await writer.write(encoder.encode(text));
    } catch {
      close(); // the client left
    }
  };
  /** `ends`: a final status ends the stream (not the one sent on connect: the backlog comes first). */
  const send = async (e: LiveEvent, ends = true) => {
    const eventId = "id" in e ? e.id : undefined;
    const seq = e.event === "segments" ? (e.seq ?? eventId) : eventId;
    if (seq !== undefined && seq <= written) return;
    await write(`${eventId !== undefined ? `id: ${eventId}\n` : ""}event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
    if (eventId !== undefined) written = eventId;
    if (ends && e.event === "status" && FINAL_STATUSES.has(e.data.status)) close();
  };
  const keepalive = setInterval(() => void write(": keep-alive\n\n"), KEEPALIVE_MS);

  socket.addEventListener("message", (m) => {
    const event = JSON.parse(String(m.data)) as LiveEvent;
    if (caughtUp) void sendInOrder(event);
    else pending.push(event);
  });
  socket.addEventListener("close", () => close());
  // Live events arrive one message at a time; writing them in order needs a chain.
  let chain: Promise<void> = Promise.resolve();
  const sendInOrder = (e: LiveEvent) => (chain = chain.then(() => send(e)));

  c.executionCtx.waitUntil(
    (async () => {
      try {
        await write("retry: 3000\n\n");
        await send({ event: "status", data: statusOf(job) }, false);
        await send({ event: "progress", data: job.progress });
        let after: number = resumeFrom ?? (await snapshot(c, id, owner, send, write));
        written = Math.max(written, after);
        for (let more = true; more && !closed; ) {
          const page: { events: LiveEvent[]; last: number; more: boolean } = unwrap(await stub.eventsSince(owner, after, CATCH_UP_ENTRIES));
          for (const e of page.events) await send(e);
          after = page.last;
          more = page.more;
        }
        // Whatever arrived meanwhile, then live; a job that had already ended ends the stream.
        // Queued in one synchronous pass, so a live event arriving meanwhile lines up after them.
        caughtUp = true;
        for (const e of pending.splice(0)) void sendInOrder(e);
        await chain;
        const now = unwrap(await stub.get(owner));
        if (FINAL_STATUSES.has(now.status)) {
          await sendInOrder({ event: "progress", data: now.progress });
          await sendInOrder({ event: "status", data: statusOf(now) });
        }
      } catch (error) {
        console.error(`events of ${id} failed`, error);
        close();
      }
    })(),
  );

  return new Response(readable, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" },
  });
}

/** The transcript as it stands, in pages; the last page carries the merge it stands at as its id. */
async function snapshot(
  c: Context<AppEnv>,
  id: string,
  owner: string,
  send: (e: LiveEvent) => Promise<void>,
  write: (text: string) => Promise<void>,
): Promise<number> {
  const stub = jobStub(c.env, id);
  let key: SegmentKey | null = null;
  let upTo: number | null = null;
  for (;;) {
    const page: { events: LiveEvent[]; next: SegmentKey | null; up_to: number } = unwrap(await stub.snapshotPage(owner, key, upTo, SNAPSHOT_SEGMENTS));
    upTo = page.up_to;
    const events = page.events;
    if (page.next === null) {
      const last = events.at(-1);
      if (last?.event === "segments") events[events.length - 1] = { ...last, id: page.up_to };
      for (const e of events) await send(e);
      // No segments yet: the id alone, so a reconnect resumes from here.
      if (last === undefined && page.up_to > 0) await write(`id: ${page.up_to}\n\n`);
      return page.up_to;
    }
    for (const e of events) await send(e);
    key = page.next;
  }
}

function statusOf(job: TranscriptionJob): Extract<LiveEvent, { event: "status" }>["data"] {
  return { status: job.status, ...(job.error ? { error: job.error } : {}) };
}

function lastEventId(value: string | undefined): number | null {
  if (value === undefined || value.trim() === "") return null;
  if (!/^\d{1,15}$/.test(value.trim()))
    throw new ApiError(400, "invalid_request", "Last-Event-ID must be an event id this stream sent (a whole number)", "last_event_id");
  return Number(value.trim());
}
