import type { Segment } from "./segment.ts";

/**
 * The merge core: machines post segments per (range, attempt, seq). A range is
 * retried under a new attempt when its lease is lost, so two machines may post
 * for the same range; only the attempt that holds the range counts, re-posts
 * of a seq change nothing, and the output is ordered by absolute time whatever
 * order the posts arrived in.
 */

export interface SegmentBatch {
  range_index: number;
  attempt: number;
  seq: number;
  segments: readonly Segment[];
}

export interface RangeView {
  index: number;
  start_sec: number;
  end_sec: number;
  /** The attempt that currently holds (or finished) the range. */
  attempt: number;
  /** False once the range is finished or the job is over: later posts are refused. */
  open: boolean;
}

export type BatchDecision = { kind: "accept" } | { kind: "duplicate" } | { kind: "stale"; current_attempt: number } | { kind: "closed" };

export function decideBatch(range: RangeView, batch: Pick<SegmentBatch, "attempt" | "seq">, seenSeqs: ReadonlySet<number>): BatchDecision {
  if (batch.attempt !== range.attempt) return { kind: "stale", current_attempt: range.attempt };
  // A retried post of a seq already stored is answered as success even after
  // the range closed: the machine may have lost our first answer.
  if (seenSeqs.has(batch.seq)) return { kind: "duplicate" };
  if (!range.open) return { kind: "closed" };
  return { kind: "accept" };
}

/**
 * Keeps a segment inside its range: Whisper's last timestamp can overshoot the
 * audio it was given by a few hundred milliseconds, and two ranges must never
 * overlap on the merged timeline.
 */
export function clampToRange(segment: Segment, range: Pick<RangeView, "start_sec" | "end_sec">): Segment {
  const clamp = (t: number) => Math.min(range.end_sec, Math.max(range.start_sec, t));
  const start = clamp(segment.start_sec);
  const end = Math.max(start, clamp(segment.end_sec));
  const words = segment.words?.map((w) => {
    const ws = clamp(w.start_sec);
    return { ...w, start_sec: ws, end_sec: Math.max(ws, clamp(w.end_sec)) };
  });
  return { ...segment, start_sec: start, end_sec: end, ...(words ? { words } : {}) };
}

export interface MergedSegment extends Segment {
  range_index: number;
  seq: number;
  ord: number;
}

/** Absolute time first; ties keep range, post and in-post order, so the result is total. */
export function compareMerged(a: MergedSegment, b: MergedSegment): number {
  return a.start_sec - b.start_sec || a.range_index - b.range_index || a.seq - b.seq || a.ord - b.ord;
}

/**
 * Applies a set of batches, in any order, to the ranges as they stand and
 * returns the merged transcript. The job object applies the same rules one
 * post at a time against its tables; this form is the specification its tests
 * compare against.
 */
export function mergeBatches(ranges: readonly RangeView[], batches: Iterable<SegmentBatch>): MergedSegment[] {
  const byIndex = new Map(ranges.map((r) => [r.index, r]));
  const seen = new Map<number, Set<number>>();
  const out: MergedSegment[] = [];
  for (const batch of batches) {
    const range = byIndex.get(batch.range_index);
    if (!range) continue;
    const seqs = seen.get(range.index) ?? new Set<number>();
    seen.set(range.index, seqs);
    // Merging happens after the fact here, so "closed" ranges still take the
    // batches of their holding attempt; only the attempt and seq rules apply.
    const decision = decideBatch({ ...range, open: true }, batch, seqs);
    if (decision.kind !== "accept") continue;
    seqs.add(batch.seq);
    batch.segments.forEach((s, ord) => out.push({ ...clampToRange(s, range), range_index: range.index, seq: batch.seq, ord }));
  }
  return out.sort(compareMerged);
}
