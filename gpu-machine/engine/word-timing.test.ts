import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../shared/mulberry32.ts";
import { medianFilter, tokenStartTimes } from "./word-timing.ts";

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
