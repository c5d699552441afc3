import { segmentJson } from "../../shared/formats/render.ts";
import type { LiveEvent } from "../../shared/live-transcript.ts";
import type { JobStore } from "./job-store.ts";

/**
 * A job's live events, for `GET /v1/transcriptions/{id}/events` (routes/job-events.ts):
 * segments as they are merged and replacements of segments already shown, both
 * numbered by the merge log (their SSE ids, so a resumed stream misses nothing
 * and repeats nothing), and the job's status and progress, which carry no id.
 *
 * Streams are WebSockets from the route to this object, accepted for
 * hibernation: between events the object is evicted from memory and bills no
 * duration, however many people watch and for however long (README: Live events).
 */
export type { LiveEvent };

/** Segments per event: a batch of 2,000 segments with words would pass a WebSocket message's limit. */
export const SEGMENTS_PER_EVENT = 100;

/** The events of a run of segments: `id` only on the last, so a client that resumes from it has them all. */
export function segmentEvents(segments: ReadonlyArray<Parameters<typeof segmentJson>[0]>, id: number | undefined): LiveEvent[] {
  const events: LiveEvent[] = [];
  for (let i = 0; i < segments.length; i += SEGMENTS_PER_EVENT) {
    const last = i + SEGMENTS_PER_EVENT >= segments.length;
    const page = segments.slice(i, i + SEGMENTS_PER_EVENT).map((s) => segmentJson(s, true));
    events.push({ event: "segments", ...(id !== undefined ? { seq: id } : {}), ...(last && id !== undefined ? { id } : {}), data: { segments: page } });
  }
  return events;
}

/** Merge-log entries after `seq`, as events; at most `limit` entries at a time. */
export function eventsAfter(store: JobStore, seq: number, limit: number): { events: LiveEvent[]; last: number; more: boolean } {
  const entries = store.mergeLogAfter(seq, limit);
  const events: LiveEvent[] = [];
  for (const e of entries) {
    if (e.kind === "replace") {
      events.push({ event: "replace", id: e.seq, data: { range_index: e.range_idx, start_sec: e.start_sec, end_sec: e.end_sec } });
      continue;
    }
    // Replaced since: the later replace entry covers it, for clients that saw it.
    const segments = store.segmentsOfMerge(e.seq);
    if (segments.length > 0) events.push(...segmentEvents(segments, e.seq));
  }
  return { events, last: entries.at(-1)?.seq ?? seq, more: entries.length === limit };
}

export class LiveStreams {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly store: JobStore,
  ) {}

  /** A stream for the route: the object's end of a WebSocket, hibernatable. */
  accept(): Response {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /**
   * Sends open streams what the merge log gained since the last push, then
   * `extra` (status, progress). With nobody watching it only moves the mark,
   * and `extra` is never built: pushes come with every segment post.
   */
  push(extra: () => LiveEvent[] = () => []): void {
    const sockets = this.ctx.getWebSockets();
    let sent = this.store.sentSeq();
    if (sockets.length === 0) {
      const last = this.store.lastMergeSeq();
      if (last !== sent) this.store.setSentSeq(last);
      return;
    }
    const out: LiveEvent[] = [];
    for (let more = true; more; ) {
      const page = eventsAfter(this.store, sent, 200);
      out.push(...page.events);
      sent = page.last;
      more = page.more;
    }
    this.store.setSentSeq(sent);
    out.push(...extra());
    for (const ws of sockets) {
      for (const e of out) {
        try {
          ws.send(JSON.stringify(e));
        } catch {
          // A stream whose client left: its close handler ends it.
        }
      }
    }
  }
}
