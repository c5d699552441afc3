import { describe, expect, it } from "vitest";
import { clampToRange, decideBatch, mergeBatches, type RangeView, type SegmentBatch } from "./merge.ts";
import type { Segment } from "./segment.ts";

const seg = (start: number, end: number, text: string): Segment => ({
  start_sec: start,
  end_sec: end,
  text,
  language: "en",
  avg_logprob: -0.1,
  no_speech_prob: 0,
});

/** Deterministic shuffle (mulberry32), so a failure names its seed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const ranges: RangeView[] = [
  { index: 0, start_sec: 0, end_sec: 300, attempt: 2, open: true },
  { index: 1, start_sec: 300, end_sec: 600, attempt: 1, open: true },
];

const current: SegmentBatch[] = [
  { range_index: 0, attempt: 2, seq: 0, segments: [seg(0, 4, "a"), seg(4, 9, "b")] },
  { range_index: 0, attempt: 2, seq: 1, segments: [seg(9, 299, "c")] },
  { range_index: 1, attempt: 1, seq: 0, segments: [seg(300, 310, "d")] },
  { range_index: 1, attempt: 1, seq: 1, segments: [seg(310, 320, "e"), seg(320, 640, "f")] },
];
const noise: SegmentBatch[] = [
  // The attempt that lost range 0's lease, and a re-send with other content.
  { range_index: 0, attempt: 1, seq: 0, segments: [seg(0, 5, "stale")] },
  { range_index: 0, attempt: 1, seq: 7, segments: [seg(100, 105, "stale too")] },
  { range_index: 1, attempt: 1, seq: 0, segments: [seg(301, 302, "duplicate seq")] },
  // A range the job does not have.
  { range_index: 9, attempt: 1, seq: 0, segments: [seg(5000, 5001, "nowhere")] },
];

describe("mergeBatches", () => {
  it("orders by absolute time and keeps only the holding attempt", () => {
    const merged = mergeBatches(ranges, current);
    expect(merged.map((s) => s.text)).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(merged.at(-1)!.end_sec).toBe(600); // clamped to its range
  });

  it("gives the same result for any arrival order, duplicates and stale posts included", () => {
    const reference = mergeBatches(ranges, current);
    for (let seed = 1; seed <= 200; seed++) {
      // Current posts keep their first arrival: a duplicate seq arriving later is ignored.
      const order = shuffled([...current, ...noise.filter((b) => b.segments[0]!.text !== "duplicate seq")], seed);
      const withDupAfter = [...order, noise[2]!, ...shuffled(current, seed + 1)];
      expect(mergeBatches(ranges, withDupAfter), `seed ${seed}`).toEqual(reference);
    }
  });

  it("keeps ties in range, post and position order", () => {
    const tie: SegmentBatch[] = [
      { range_index: 1, attempt: 1, seq: 0, segments: [seg(300, 300, "r1")] },
      { range_index: 0, attempt: 2, seq: 3, segments: [seg(300, 300, "r0 s3"), seg(300, 300, "r0 s3 second")] },
      { range_index: 0, attempt: 2, seq: 1, segments: [seg(300, 300, "r0 s1")] },
    ];
    expect(mergeBatches(ranges, tie).map((s) => s.text)).toEqual(["r0 s1", "r0 s3", "r0 s3 second", "r1"]);
  });
});

describe("decideBatch", () => {
  const range: RangeView = { index: 0, start_sec: 0, end_sec: 300, attempt: 3, open: true };
  it.each([
    [{ attempt: 2, seq: 0 }, new Set<number>(), { kind: "stale", current_attempt: 3 }],
    [{ attempt: 4, seq: 0 }, new Set<number>(), { kind: "stale", current_attempt: 3 }],
    [{ attempt: 3, seq: 0 }, new Set([0]), { kind: "duplicate" }],
    [{ attempt: 3, seq: 1 }, new Set([0]), { kind: "accept" }],
  ])("decides %j with seen %j", (batch, seen, expected) => {
    expect(decideBatch(range, batch, seen)).toEqual(expected);
  });

  it("refuses new posts to a closed range but answers re-sends as duplicates", () => {
    const closed = { ...range, open: false };
    expect(decideBatch(closed, { attempt: 3, seq: 5 }, new Set([0]))).toEqual({ kind: "closed" });
    expect(decideBatch(closed, { attempt: 3, seq: 0 }, new Set([0]))).toEqual({ kind: "duplicate" });
  });
});

describe("clampToRange", () => {
  it("pulls segment and word times inside the range", () => {
    const s = { ...seg(-1, 305, "x"), words: [{ word: "x", start_sec: 299, end_sec: 301, probability: 0.9 }] };
    const c = clampToRange(s, { start_sec: 0, end_sec: 300 });
    expect([c.start_sec, c.end_sec]).toEqual([0, 300]);
    expect(c.words).toEqual([{ word: "x", start_sec: 299, end_sec: 300, probability: 0.9 }]);
    expect(clampToRange(seg(400, 410, "after"), { start_sec: 0, end_sec: 300 })).toMatchObject({ start_sec: 300, end_sec: 300 });
  });
});
