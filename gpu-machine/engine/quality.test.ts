import { describe, expect, it } from "vitest";
import { compressionRatio, isSilence, loopCut, needsFallback, QUALITY, repeatedSegments, temperaturesFrom } from "./quality.ts";

describe("loop cut", () => {
  it("cuts a phrase repeated until the limit back to its first copy", () => {
    const phrase = [11, 12, 13, 14, 15, 16, 17, 18, 19];
    const tokens = [1, 2, 3, ...phrase, ...phrase, ...phrase, ...phrase];
    expect(loopCut(tokens)).toBe(3 + phrase.length);
  });

  it("cuts one token said 32 times", () => {
    expect(loopCut([5, 6, ...new Array<number>(32).fill(7)])).toBe(3);
  });

  it("leaves speech alone: a word twice, a short phrase three times, a long text", () => {
    expect(loopCut([1, 2, 2, 3])).toBeNull();
    expect(loopCut([1, 4, 5, 4, 5, 4, 5, 9])).toBeNull();
    expect(loopCut([9, 4, 5, 4, 5, 4, 5])).toBeNull(); // 6 tokens of repetition is far from a loop
    expect(loopCut(Array.from({ length: 400 }, (_, i) => (i * 7919) % 997))).toBeNull();
  });
});

describe("fallback and silence decisions", () => {
  it("compression ratio is high for repeated text and low for prose", () => {
    expect(compressionRatio("the cat sat on the mat. ".repeat(20))).toBeGreaterThan(2.4);
    expect(compressionRatio("And so my fellow Americans ask not what your country can do for you.")).toBeLessThan(2.4);
    expect(compressionRatio("")).toBe(0);
  });

  it("retries repetitive, unsure or looped decodes, but not silence", () => {
    const ok = { avgLogprob: -0.3, compressionRatio: 1.4, noSpeechProb: 0.1, looped: false };
    expect(needsFallback(ok)).toBe(false);
    expect(needsFallback({ ...ok, compressionRatio: 2.6 })).toBe(true);
    expect(needsFallback({ ...ok, avgLogprob: -1.2 })).toBe(true);
    expect(needsFallback({ ...ok, looped: true })).toBe(true);
    const silent = { ...ok, avgLogprob: -1.2, noSpeechProb: 0.9 };
    expect(isSilence(silent)).toBe(true);
    expect(needsFallback(silent)).toBe(false);
    expect(isSilence({ ...ok, noSpeechProb: 0.9 })).toBe(false); // confident text wins over the no-speech token
  });
});

describe("repeated segments", () => {
  it("finds a sentence re-issued with new timestamps, even with a new first word or case", () => {
    const said = "We have a question that we have all of you who are in the course of the year.";
    expect(repeatedSegments(["We are gathered to", said, said, `And ${said.toLowerCase()}`])).toEqual([2, 3]);
  });

  it("leaves short repeats and different sentences alone", () => {
    expect(repeatedSegments(["Thank you.", "Thank you.", "No, no.", "No, no."])).toEqual([]);
    expect(repeatedSegments(["The cat sat on the mat.", "The dog sat on the mat."])).toEqual([]);
  });
});

describe("temperature schedule", () => {
  it("starts at the asked temperature and goes on with the hotter steps of the original's schedule", () => {
    expect(temperaturesFrom(0)).toEqual([...QUALITY.temperatures]);
    expect(temperaturesFrom(0.4)).toEqual([0.4, 0.6, 0.8, 1.0]);
    expect(temperaturesFrom(0.3)).toEqual([0.3, 0.4, 0.6, 0.8, 1.0]);
    expect(temperaturesFrom(1)).toEqual([1]);
  });
});
