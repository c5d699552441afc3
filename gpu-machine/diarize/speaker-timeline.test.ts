import { describe, expect, it } from "vitest";
import { RangeAudio } from "./range-audio.ts";
import { SpeakerTimeline, spansWithin, totalLength } from "./speaker-timeline.ts";

describe("SpeakerTimeline", () => {
  it("merges touching pieces of one speaker into turns and keeps clean speech apart", () => {
    const t = new SpeakerTimeline();
    t.add(0, 10, 0, true);
    t.add(10, 20, 0, false);
    t.add(20, 30, 1, true);
    t.add(35, 40, 0, true);
    expect(t.turns()).toEqual([
      { start: 0, end: 20, speaker: 0 },
      { start: 20, end: 30, speaker: 1 },
      { start: 35, end: 40, speaker: 0 },
    ]);
    expect(t.cleanSpans(0)).toEqual([
      { start: 0, end: 10 },
      { start: 35, end: 40 },
    ]);
    expect(t.talkSamples(0)).toBe(25);
    expect(t.speakers()).toEqual([0, 1]);
    expect(() => t.add(38, 45, 1, true)).toThrow(RangeError);
  });

  it("clips spans to a stretch", () => {
    const spans = [
      { start: 0, end: 10 },
      { start: 20, end: 30 },
    ];
    expect(spansWithin(spans, 5, 25)).toEqual([
      { start: 5, end: 10 },
      { start: 20, end: 25 },
    ]);
    expect(totalLength(spansWithin(spans, 5, 25))).toBe(10);
  });
});

describe("RangeAudio", () => {
  it("reads across blocks, fills a gap with silence and takes overlapping samples once", () => {
    const audio = new RangeAudio();
    audio.append(0, Float32Array.of(1, 2, 3));
    audio.append(5, Float32Array.of(6, 7));
    audio.append(6, Float32Array.of(70, 8));
    expect(audio.length).toBe(8);
    expect([...audio.read(0, 10)]).toEqual([1, 2, 3, 0, 0, 6, 7, 8, 0, 0]);
    expect([
      ...audio.gather([
        { start: 1, end: 3 },
        { start: 6.4, end: 8 },
      ]),
    ]).toEqual([2, 3, 7, 8]);
  });
});
