import type { z } from "zod";
import { FINAL_STATUSES, type JobStatus, type Progress, type TranscriptSegment } from "./api.ts";
import type { SseEvent } from "./sse.ts";

/**
 * A job's transcript as its live events build it (`GET /v1/transcriptions/{id}/events`),
 * for the web page and the CLI: segments kept in time order, spans dropped
 * when a range is redone, the last event id to resume from. Pure: it is fed
 * parsed events (shared/sse.ts) and says what changed, for the caller to draw.
 */

/** A segment as the stream and the verbose_json transcript give it. */
export type LiveSegment = z.infer<typeof TranscriptSegment>;

export interface ReplaceSpan {
  range_index: number;
  start_sec: number;
  end_sec: number;
}

export type JobError = { code: string; message: string };

/**
 * The stream's events as the edge sends them (edge/job/live-events.ts). On
 * `segments`, `seq` is the merge the page belongs to (the edge's own, for
 * dropping what it already wrote) and `id`, on the last page only, the SSE id.
 */
export type LiveEvent =
  | { event: "segments"; id?: number; seq?: number; data: { segments: Array<Record<string, unknown>> } }
  | { event: "replace"; id: number; data: ReplaceSpan }
  | { event: "progress"; data: Progress }
  | { event: "status"; data: { status: JobStatus; error?: JobError } };

export type LiveChange =
  /** Each inserted at `at`, in this order: inserting them one by one at those indexes gives the new list. */
  | { kind: "added"; added: Array<{ at: number; segment: LiveSegment }> }
  /** `removed` were the segments from `at` on; a redo's segments follow. */
  | { kind: "removed"; at: number; removed: LiveSegment[]; span: ReplaceSpan }
  | { kind: "progress"; progress: Progress }
  | { kind: "status"; status: JobStatus; error?: JobError };

export class LiveTranscript {
  /** In time order (by start; equal starts in the order they came). */
  readonly segments: LiveSegment[] = [];
  /** The last merge or replacement applied: the stream's id to resume after. */
  lastEventId: number | null = null;
  status: JobStatus | null = null;
  error: JobError | undefined;
  progress: Progress | null = null;
  /**
   * A merge of many segments comes as several events, the id on the last
   * only; the ones before wait here, since a stream that drops before that
   * last one sends the whole merge again.
   */
  private pending: LiveSegment[] = [];

  apply(e: SseEvent): LiveChange[] {
    const data = parse(e.data);
    if (data === undefined) return [];
    switch (e.event) {
      case "segments": {
        const segments = (data as { segments?: unknown }).segments;
        if (Array.isArray(segments)) this.pending.push(...segments.filter(isSegment));
        if (e.id === undefined) return [];
        this.moveTo(e.id);
        return this.commit();
      }
      case "replace": {
        if (!isSpan(data)) return [];
        const changes = this.commit();
        if (e.id !== undefined) this.moveTo(e.id);
        const at = this.lowerBound(data.start_sec);
        const removed = this.segments.splice(at, this.lowerBound(data.end_sec) - at);
        return [...changes, { kind: "removed", at, removed, span: data }];
      }
      case "progress":
        if (typeof (data as Progress).audio_sec_done !== "number") return [];
        this.progress = data as Progress;
        return [{ kind: "progress", progress: this.progress }];
      case "status": {
        const { status, error } = data as { status?: JobStatus; error?: JobError };
        if (typeof status !== "string") return [];
        this.status = status;
        this.error = error;
        // Nothing follows a final status: what waited for its merge's last page is all there is.
        const changes = FINAL_STATUSES.has(status) ? this.commit() : [];
        return [...changes, { kind: "status", status, ...(error ? { error } : {}) }];
      }
      default:
        return [];
    }
  }

  /** The connection dropped: the pages of an unfinished merge will come again, whole. */
  dropPending(): void {
    this.pending = [];
  }

  /**
   * Takes `final` (the transcript fetched whole, when the stream could not
   * give what was missed) as the list; what it added and removed, by start,
   * end and text. Segments kept are the same objects as before.
   */
  reconcile(final: readonly LiveSegment[]): { added: LiveSegment[]; removed: LiveSegment[] } {
    const held = new Map<string, LiveSegment[]>();
    for (const s of this.segments) held.set(keyOf(s), [...(held.get(keyOf(s)) ?? []), s]);
    const added: LiveSegment[] = [];
    const next = final.map((s) => {
      const same = held.get(keyOf(s))?.shift();
      if (!same) added.push(s);
      return same ?? s;
    });
    const removed = [...held.values()].flat();
    this.segments.splice(0, this.segments.length, ...next);
    this.pending = [];
    return { added, removed };
  }

  private moveTo(id: string): void {
    const n = Number(id);
    if (Number.isSafeInteger(n)) this.lastEventId = n;
  }

  private commit(): LiveChange[] {
    if (this.pending.length === 0) return [];
    // Stable: equal starts keep the order they came in, as the transcript orders them.
    const batch = this.pending.sort((a, b) => a.start_sec - b.start_sec);
    this.pending = [];
    const added = batch.map((segment) => {
      const at = this.upperBound(segment.start_sec);
      this.segments.splice(at, 0, segment);
      return { at, segment };
    });
    return [{ kind: "added", added }];
  }

  /** The first index whose start is at or after `sec`. */
  private lowerBound(sec: number): number {
    let lo = 0;
    let hi = this.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid]!.start_sec < sec) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first index whose start is after `sec`. */
  private upperBound(sec: number): number {
    let lo = 0;
    let hi = this.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid]!.start_sec <= sec) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function parse(data: string): unknown {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

function isSegment(s: unknown): s is LiveSegment {
  const v = s as Partial<LiveSegment> | null;
  return typeof v === "object" && v !== null && typeof v.start_sec === "number" && typeof v.end_sec === "number" && typeof v.text === "string";
}

function isSpan(d: unknown): d is ReplaceSpan {
  const v = d as Partial<ReplaceSpan>;
  return typeof v.start_sec === "number" && typeof v.end_sec === "number" && typeof v.range_index === "number";
}

function keyOf(s: LiveSegment): string {
  return `${s.start_sec}|${s.end_sec}|${s.text}`;
}
