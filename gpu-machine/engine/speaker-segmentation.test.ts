import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, sharedPath } from "../../test/support/shared-data.ts";
import { diarizationErrorRate, type SpeakerTurn } from "../eval/der.ts";
import {
  frameCentreSec,
  LOCAL_SPEAKERS,
  POWERSET_CLASSES,
  powersetToSpeakers,
  SAMPLE_RATE,
  type SegmentationWindow,
  SpeakerSegmentation,
  WINDOW_SAMPLES,
  windowStarts,
} from "./speaker-segmentation.ts";

const MODEL = "models/diarization/pyannote-segmentation-3.0-int8/model.int8.onnx";
// Two voices the model tells apart: a man from LibriSpeech test-other (3.36 s),
// then the LJSpeech woman (4.51 s). Two women (speaker 1688 or 3331 with LJ)
// come out as one local speaker, so the pair is chosen, not arbitrary.
const FIRST = "data/speech/librispeech-test-other/2609-156975-0003.flac";
const SECOND = "data/speech/ljspeech/LJ001-0011.flac";
const GAP_SEC = 1.5;

const modelFromEnv = process.env.SPEAKER_SEGMENTATION_MODEL;
const need = missingShared(...(modelFromEnv ? [] : [MODEL]), FIRST, SECOND);

describe("windowStarts", () => {
  const step = 5 * SAMPLE_RATE;

  it("covers the audio with windows a step apart, the last one padded", () => {
    expect(windowStarts(0, step)).toEqual([]);
    expect(windowStarts(1, step)).toEqual([0]);
    expect(windowStarts(WINDOW_SAMPLES, step)).toEqual([0]);
    expect(windowStarts(WINDOW_SAMPLES + 1, step)).toEqual([0, step]);
    // 19 s: windows at 0, 5 and 10 s; the last holds 9 s of audio and 1 s of padding.
    expect(windowStarts(19 * SAMPLE_RATE, step)).toEqual([0, step, 2 * step]);
    expect(windowStarts(20 * SAMPLE_RATE, step)).toEqual([0, step, 2 * step]);
    expect(windowStarts(25 * SAMPLE_RATE, 10 * SAMPLE_RATE)).toEqual([0, 10 * SAMPLE_RATE, 20 * SAMPLE_RATE]);
  });

  it("refuses a step of less than a sample", () => {
    expect(() => windowStarts(100, 0)).toThrow(RangeError);
  });
});

describe("powersetToSpeakers", () => {
  it("turns the most likely class into the speakers it stands for", () => {
    // One frame per class, each certain of it.
    const classes = POWERSET_CLASSES.length;
    const logP = new Float32Array(classes * classes).fill(Math.log(1e-6));
    for (let c = 0; c < classes; c++) logP[c * classes + c] = Math.log(1 - 6e-6);
    const { activity, probability } = powersetToSpeakers(logP, classes);
    const active = (f: number) => [0, 1, 2].filter((s) => activity[f * LOCAL_SPEAKERS + s] === 1);
    expect([0, 1, 2, 3, 4, 5, 6].map(active)).toEqual([[], [0], [1], [2], [0, 1], [0, 2], [1, 2]]);
    // Speaker 0 in the "s0 + s1" frame: p(s0+s1) plus the small p(s0) and p(s0+s2).
    expect(probability[4 * LOCAL_SPEAKERS]).toBeCloseTo(1, 4);
    expect(probability[0]).toBeCloseTo(3e-6, 8);
  });

  it("sums the classes that include a speaker into its probability", () => {
    // silence .1, s0 .2, s1 .3, s2 .05, s0+s1 .15, s0+s2 .1, s1+s2 .1: argmax s1 alone.
    const p = [0.1, 0.2, 0.3, 0.05, 0.15, 0.1, 0.1];
    const { activity, probability } = powersetToSpeakers(Float32Array.from(p, Math.log), 1);
    expect([...activity]).toEqual([0, 1, 0]);
    expect(probability[0]).toBeCloseTo(0.2 + 0.15 + 0.1, 6);
    expect(probability[1]).toBeCloseTo(0.3 + 0.15 + 0.1, 6);
    expect(probability[2]).toBeCloseTo(0.05 + 0.1 + 0.1, 6);
  });

  it("checks the shape", () => {
    expect(() => powersetToSpeakers(new Float32Array(13), 2)).toThrow(RangeError);
  });
});

describe("frameCentreSec", () => {
  it("puts frame 0 at sample 495.5 and steps by 270 samples (16.875 ms)", () => {
    expect(frameCentreSec(0) * SAMPLE_RATE).toBeCloseTo(495.5, 6);
    expect(frameCentreSec(1) - frameCentreSec(0)).toBeCloseTo(0.016875, 9);
    // 589 frames span a 10 s window.
    expect(frameCentreSec(588)).toBeLessThan(10);
    expect(frameCentreSec(589)).toBeGreaterThan(9.95);
  });
});

describe.skipIf(need.missing)("SpeakerSegmentation on two speakers with a pause between them", () => {
  let model: SpeakerSegmentation;
  let audio: Float32Array;
  let firstEnd: number;
  let secondStart: number;

  beforeAll(async () => {
    model = await SpeakerSegmentation.load(modelFromEnv ?? sharedPath(MODEL));
    const [a, b] = await Promise.all([decodeWhole(sharedPath(FIRST)), decodeWhole(sharedPath(SECOND))]);
    audio = new Float32Array(a.length + GAP_SEC * SAMPLE_RATE + b.length);
    audio.set(a);
    audio.set(b, a.length + GAP_SEC * SAMPLE_RATE);
    firstEnd = a.length / SAMPLE_RATE;
    secondStart = firstEnd + GAP_SEC;
  });

  afterAll(async () => {
    await model?.release();
  });

  /** Frames of one window with centres in [from, to) s of the audio, counted by who is active (index 3: nobody). */
  function tally(w: SegmentationWindow, from: number, to: number): number[] {
    const counts = [0, 0, 0, 0];
    for (let f = 0; f < w.frames; f++) {
      const t = w.start + frameCentreSec(f);
      if (t < from || t >= to) continue;
      const who = [0, 1, 2].filter((s) => w.activity[f * LOCAL_SPEAKERS + s] === 1);
      for (const s of who) counts[s]!++;
      if (who.length === 0) counts[3]!++;
    }
    return counts;
  }

  /** The local speaker with most frames, and its share of the frames where anyone speaks. */
  function dominant(counts: number[]): { speaker: number; share: number } {
    const speech = counts.slice(0, LOCAL_SPEAKERS);
    const speaker = speech.indexOf(Math.max(...speech));
    return { speaker, share: speech[speaker]! / speech.reduce((x, y) => x + y, 0) };
  }

  it("hears silence in the gap and two different speakers in one 10 s window", async () => {
    expect(audio.length).toBeLessThan(WINDOW_SAMPLES);
    const windows = await model.segment(audio);
    expect(windows).toHaveLength(1);
    const [w] = windows as [SegmentationWindow];
    expect(w.start).toBe(0);
    expect(w.frames).toBe(589);
    // Frames past the audio's end (9.37 s) are padding.
    expect(frameCentreSec(w.audioFrames - 1)).toBeLessThan(audio.length / SAMPLE_RATE);
    expect(frameCentreSec(w.audioFrames)).toBeGreaterThanOrEqual(audio.length / SAMPLE_RATE);

    // The digital silence between the clips, less a quarter second at each edge.
    const gap = tally(w, firstEnd + 0.25, secondStart - 0.25);
    expect(gap[3]).toBeGreaterThan(50);
    expect(gap.slice(0, 3)).toEqual([0, 0, 0]);

    const first = dominant(tally(w, 0, firstEnd));
    const second = dominant(tally(w, secondStart, audio.length / SAMPLE_RATE));
    expect(first.speaker).not.toBe(second.speaker);
    expect(first.share).toBeGreaterThan(0.9);
    expect(second.share).toBeGreaterThan(0.9);
  });

  it("scores a low DER against the clips' extents when its frames are read as turns", async () => {
    const [w] = (await model.segment(audio)) as [SegmentationWindow];
    const frameSec = frameCentreSec(1) - frameCentreSec(0);
    const hypothesis: SpeakerTurn[] = [];
    for (let f = 0; f < w.audioFrames; f++) {
      const centre = w.start + frameCentreSec(f);
      for (let s = 0; s < LOCAL_SPEAKERS; s++) {
        if (w.activity[f * LOCAL_SPEAKERS + s] === 1) hypothesis.push({ start: centre - frameSec / 2, end: centre + frameSec / 2, speaker: `local${s}` });
      }
    }
    const reference = [
      { start: 0, end: firstEnd, speaker: "librispeech-2609" },
      { start: secondStart, end: audio.length / SAMPLE_RATE, speaker: "lj" },
    ];
    const score = diarizationErrorRate(reference, hypothesis);
    // The clips' own leading and trailing silence and pauses count as missed
    // speech against a reference that runs from clip start to clip end; what must
    // stay small is confusion, and nothing is found in the gap.
    expect(score.confusion).toBeLessThan(0.2);
    expect(score.falseAlarm).toBeLessThan(0.1);
    expect(score.der).toBeLessThan(0.3);
    expect(new Set(Object.values(score.mapping))).toEqual(new Set(["librispeech-2609", "lj"]));
  });

  it("slides windows a step apart over longer audio and pads the last", async () => {
    // The pair twice: 18.7 s, so windows at 0, 5 and 10 s, the last 1.3 s short.
    const twice = new Float32Array(audio.length * 2);
    twice.set(audio);
    twice.set(audio, audio.length);
    const windows = await model.segment(twice, { stepSec: 5 });
    expect(windows.map((w) => w.start)).toEqual([0, 5, 10]);
    expect(windows.slice(0, 2).map((w) => w.audioFrames)).toEqual([589, 589]);
    const last = windows[2]!;
    expect(last.audioFrames).toBeLessThan(last.frames);
    // The zero padding reads as silence.
    const padding = tally(last, twice.length / SAMPLE_RATE + 0.25, 20);
    expect(padding.slice(0, 3)).toEqual([0, 0, 0]);
    expect(padding[3]).toBeGreaterThan(0);
  });
});
