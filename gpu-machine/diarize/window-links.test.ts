import { describe, expect, it } from "vitest";
import { FRAME_STEP_SAMPLES, LOCAL_SPEAKERS } from "../engine/speaker-segmentation.ts";
import { frameCentre, nearestFrame, overlapLinks, type WindowActivity } from "./window-links.ts";

const FRAMES = 589;
const SEC = 16000;

/** A window from `start` s where local speaker s talks over the given seconds of the range. */
function window(start: number, talk: [number, number, number][]): WindowActivity {
  const w: WindowActivity = {
    start: start * SEC,
    frames: FRAMES,
    activity: new Uint8Array(FRAMES * LOCAL_SPEAKERS),
    probability: new Float32Array(FRAMES * LOCAL_SPEAKERS),
  };
  for (let i = 0; i < FRAMES; i++) {
    const t = frameCentre(w, i) / SEC;
    for (const [s, from, to] of talk) {
      if (t >= from && t < to) {
        w.activity[i * LOCAL_SPEAKERS + s] = 1;
        w.probability[i * LOCAL_SPEAKERS + s] = 0.9;
      }
    }
  }
  return w;
}

describe("window links", () => {
  it("finds the frame of a window nearest a time", () => {
    const w = window(5, []);
    expect(nearestFrame(w, frameCentre(w, 100))).toBe(100);
    expect(nearestFrame(w, frameCentre(w, 100) + FRAME_STEP_SAMPLES * 0.4)).toBe(100);
    expect(nearestFrame(w, 4 * SEC)).toBe(-1);
    expect(nearestFrame(w, 16 * SEC)).toBe(-1);
  });

  it("links the local speakers of two windows that talk in the same shared frames, whatever their numbers", () => {
    // Range seconds 0–10 and 5–15: A talks 2–8, B 8.5–14. The second window numbers them the other way round.
    const first = window(0, [
      [0, 2, 8],
      [1, 8.5, 14],
    ]);
    const second = window(5, [
      [2, 2, 8],
      [0, 8.5, 14],
    ]);
    expect(overlapLinks(first, second)).toEqual([1, -1, 0]);
  });

  it("links nobody on a stray shared frame or a voice heard only in the new part", () => {
    const first = window(0, [[0, 9.98, 10]]);
    const second = window(5, [
      [0, 9.98, 10],
      [1, 11, 14],
    ]);
    expect(overlapLinks(first, second)).toEqual([-1, -1, -1]);
  });
});
