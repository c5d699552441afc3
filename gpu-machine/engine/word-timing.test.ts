import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../shared/mulberry32.ts";
import { toneBursts } from "../../test/support/tone-bursts.ts";
import { medianFilter, tokenStartTimes, trimToSound } from "./word-timing.ts";

/** The definition: sort each reflected window and take its middle. */
function naiveMedian(values: Float64Array, width: number): Float64Array {
  const half = Math.floor(width / 2);
  const n = values.length;
  return Float64Array.from(values, (_, i) => {
    const window: number[] = [];
    for (let k = -half; k <= half; k++) {
      let j = Math.abs(i + k);
      if (j >= n) j = 2 * n - 2 - j;
      window.push(values[Math.min(Math.max(j, 0), n - 1)]!);
    }
    return window.sort((a, b) => a - b)[half]!;
  });
}

describe("word timing from cross-attention", () => {
  it("the sliding median equals sorting every reflected window, ties and short rows included", () => {
    const random = mulberry32(11);
    for (const width of [1, 3, 7, 9]) {
      for (let n = 1; n <= 40; n++) {
        // Few distinct values, so windows hold ties.
        const values = Float64Array.from({ length: n }, () => Math.round(random() * 4) - 2);
        const out = new Float64Array(n);
        medianFilter(values, width, out);
        expect(Array.from(out), `width ${width}, n ${n}`).toEqual(Array.from(naiveMedian(values, width)));
      }
    }
  });

  it("tokens attending to successive stretches of audio start where their stretch starts", () => {
    // Three tokens over 60 frames (20 ms each): token k attends to frames 20k … 20k+19.
    const rows = Array.from({ length: 2 }, () =>
      Array.from({ length: 3 }, (_, k) => Float32Array.from({ length: 60 }, (_, f) => (Math.floor(f / 20) === k ? 1 : 0.01))),
    );
    const starts = tokenStartTimes(rows);
    expect(starts).toHaveLength(3);
    expect(starts[0]).toBeCloseTo(0, 5);
    expect(starts[1]).toBeCloseTo(0.4, 5);
    expect(starts[2]).toBeCloseTo(0.8, 5);
  });
});

describe("words trimmed to their sound", () => {
  // One utterance at 1–2.5 s and the next at 4–6 s, over a faint floor.
  const chunk = toneBursts(8, [
    [1, 2.5, 0.2],
    [4, 6, 0.2],
  ]);
  const word = (name: string, startSec: number, endSec: number) => ({ word: name, startSec, endSec, probability: 1 });
  const times = (words: Array<{ startSec: number; endSec: number }>) => words.map((w) => [+w.startSec.toFixed(2), +w.endSec.toFixed(2)]);

  it("keeps a word to its sound, and a pause before it out of it", () => {
    expect(times(trimToSound([word("a", 0.5, 1.6), word("b", 1.6, 2.5), word("c", 3.5, 4.6)], chunk))).toEqual([
      [1, 1.6],
      [1.6, 2.5],
      [4, 4.6],
    ]);
  });

  it("seeks a segment's first word stretched over the utterance before it at its end, and its last word stretched over the next at its start", () => {
    // "c" timed 0.5–4.8 s swallows the 1–2.5 s utterance; "d" timed 4.8–7.5 s ends at 6 s whatever follows it.
    expect(times(trimToSound([word("c", 0.5, 4.8), word("d", 4.8, 7.5)], chunk))).toEqual([
      [4, 4.8],
      [4.8, 6],
    ]);
    // "b" timed 1.6–6 s is the last word: its sound is the 1.6–2.5 s stretch, not the next utterance.
    expect(times(trimToSound([word("a", 1, 1.6), word("b", 1.6, 6)], chunk))).toEqual([
      [1, 1.6],
      [1.6, 2.5],
    ]);
    // A word in the middle is trimmed as before, even when long.
    expect(times(trimToSound([word("a", 1, 1.6), word("b", 1.6, 4.4), word("c", 4.4, 5)], chunk))).toEqual([
      [1, 1.6],
      [1.6, 4.4],
      [4.4, 5],
    ]);
  });
});
