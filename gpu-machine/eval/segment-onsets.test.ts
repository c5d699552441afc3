import { describe, expect, it } from "vitest";
import { toneBursts } from "../../test/support/tone-bursts.ts";
import { speechOnset, startErrors } from "./segment-onsets.ts";

describe("speechOnset", () => {
  it("finds where the sound inside a span begins, past a quiet lead-in", () => {
    const samples = toneBursts(10, [[2.4, 5, 0.2]], 0.0005);
    expect(speechOnset(samples, 2, 6)).toBeCloseTo(2.4, 1);
  });
});

describe("startErrors", () => {
  it("measures the nearest opening segment start, and counts an utterance without one as a miss", () => {
    const utterances = [
      { start: 0, end: 4 },
      { start: 5, end: 9 },
      { start: 10, end: 12 },
    ];
    // The third utterance begins inside a segment that opened at 8.
    const e = startErrors(utterances, [0.5, 5.3, 10.2], [0.4, 2, 5.9, 8]);
    expect(e.offsets.map((o) => (o === null ? null : +o.toFixed(2)))).toEqual([-0.1, 0.6, null]);
    expect(e.within).toBeCloseTo(1 / 3);
    expect(e.medianAbs).toBeCloseTo(0.6);
  });
});
