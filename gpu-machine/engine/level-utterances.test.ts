import { describe, expect, it } from "vitest";
import { TONE_RATE, toneBursts } from "../../test/support/tone-bursts.ts";
import { levelUtterances } from "./level-utterances.ts";

const SR = TONE_RATE;
const signal = toneBursts;
const rms = (x: Float32Array, from: number, to: number) => Math.sqrt(x.subarray(from * SR, to * SR).reduce((s, v) => s + v * v, 0) / ((to - from) * SR));

describe("levelling quiet stretches", () => {
  it("raises a stretch 40 dB below the loudest to within a few dB of it", () => {
    const input = signal(10, [
      [1, 4, 0.3],
      [5, 8, 0.003],
    ]);
    const out = levelUtterances(input);
    expect(rms(out, 1.1, 3.9)).toBeCloseTo(rms(input, 1.1, 3.9), 6); // the loud one is untouched
    const gainDb = 20 * Math.log10(rms(out, 5.1, 7.9) / rms(input, 5.1, 7.9));
    expect(gainDb).toBeGreaterThan(30);
    expect(gainDb).toBeLessThanOrEqual(40.01);
  });

  it("leaves ordinary level differences, single stretches and the noise floor alone", () => {
    const similar = signal(
      10,
      [
        [1, 4, 0.3],
        [5, 8, 0.05],
      ],
      0.0005,
    );
    expect(levelUtterances(similar)).toBe(similar);
    const single = signal(10, [[1, 4, 0.003]]);
    expect(levelUtterances(single)).toBe(single);
    const withFloor = signal(
      10,
      [
        [1, 3, 0.3],
        [5, 7, 0.002],
      ],
      0.0001,
    );
    const out = levelUtterances(withFloor);
    expect(rms(out, 8.2, 9.8)).toBeCloseTo(rms(withFloor, 8.2, 9.8), 6); // pause stays at the floor
    expect(rms(out, 5.1, 6.9)).toBeGreaterThan(10 * rms(withFloor, 5.1, 6.9));
  });

  it("never clips", () => {
    const out = levelUtterances(
      signal(6, [
        [0.5, 2, 0.9],
        [3, 5, 0.001],
      ]),
    );
    expect(Math.max(...out.map(Math.abs))).toBeLessThanOrEqual(1);
  });
});
