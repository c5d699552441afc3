import { describe, expect, it } from "vitest";
import { toneBursts } from "../../test/support/tone-bursts.ts";
import { speechOnset, startErrors, vadOnset } from "./segment-onsets.ts";

describe("speechOnset", () => {
  it("finds where the sound inside a span begins, past a quiet lead-in", () => {
    const samples = toneBursts(10, [[2.4, 5, 0.2]], 0.0005);
    expect(speechOnset(samples, 2, 6)).toBeCloseTo(2.4, 1);
  });
});

describe("vadOnset", () => {
  it("is the first frame inside the span the detector calls speech, or the span's start when none is", () => {
    // Speech in 512-sample frames 100–140 (3.2–4.5 s) and from frame 400 (12.8 s).
    const frames = (start: number, end: number) => [Math.floor(start / 512), Math.ceil(end / 512)];
    const speechIn = (start: number, end: number) => {
      const [a, b] = frames(start, end);
      for (let f = a!; f < b!; f++) if ((f >= 100 && f < 140) || f >= 400) return true;
      return false;
    };
    expect(vadOnset({ speechIn }, 3, 6)).toBeCloseTo(3.2, 1);
    expect(vadOnset({ speechIn }, 3.5, 6)).toBe(3.5);
    expect(vadOnset({ speechIn }, 5, 12)).toBe(5);
    expect(vadOnset({ speechIn }, 11, 14)).toBeCloseTo(12.8, 1);
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
