import { describe, expect, it } from "vitest";
import { alignWords, attribute, formatAttribution, type HypWord, normalizedTimedWords, type PipelineChunk, type RefUtterance } from "./longform-attribution.ts";

/** Words spread evenly from `from` to `to`. */
function said(text: string, from: number, to: number, language = "en"): HypWord[] {
  const words = text.split(" ");
  const step = (to - from) / words.length;
  return words.map((word, i) => ({ word, start: from + i * step, end: from + (i + 1) * step, language }));
}

describe("alignWords", () => {
  it("labels matches, substitutions, deletions and insertions", () => {
    expect(alignWords(["a", "b", "c", "d"], ["a", "c", "d", "e"]).map((o) => o.kind)).toEqual(["ok", "del", "ok", "ok", "ins"]);
    expect(alignWords(["a", "b"], ["a", "x"]).map((o) => o.kind)).toEqual(["ok", "sub"]);
  });

  it("never pairs words the caller keeps apart", () => {
    expect(alignWords(["a", "b"], ["a", "x"], (i, j) => !(i === 1 && j === 1)).map((o) => o.kind)).toEqual(["ok", "ins", "del"]);
  });
});

describe("normalizedTimedWords", () => {
  it("normalises across words and keeps each word's time", () => {
    const out = normalizedTimedWords(said("Twenty five people. It's", 10, 14));
    expect(out.map((w) => w.word)).toEqual(["25", "people", "it", "is"]);
    // "25" is where "twenty" began; both words of "it's" are where it was.
    expect(out.map((w) => w.start)).toEqual([10, 12, 13, 13]);
  });
});

describe("attribute", () => {
  // Five utterances; the long form gets each one wrong in its own way.
  const utterances: RefUtterance[] = [
    { start: 0, end: 2, text: "the cat sat on the mat" },
    { start: 3, end: 4.4, text: "hello there world" },
    { start: 7, end: 9, text: "one more line here" },
    { start: 12, end: 13.5, text: "gone entirely" },
    { start: 15, end: 17, text: "good morning" },
  ];
  const chunks: PipelineChunk[] = [
    { startSec: 0, endSec: 4.3, speech: true },
    { startSec: 4.3, endSec: 11, speech: true },
    { startSec: 11, endSec: 14.5, speech: false },
    { startSec: 14.5, endSec: 18, speech: true },
  ];
  const short = ["the cat sat on the mat", "hello there world", "one more line", "gone entirely", "good morning"];
  const hyp: HypWord[] = [
    ...said("the cat sat on the", 0.2, 1.8),
    { word: "mat", start: 3.1, end: 3.3, language: "en" }, // a second late: drift, not an error
    ...said("hello there", 3.2, 3.8), // "world" lost where the chunk was cut at 4.3
    ...said("thank you", 6.5, 6.7), // over the silence between utterances
    ...said("one more line here line here", 7.1, 8.9), // the end said twice
    // "gone entirely" sat in a chunk VAD kept from the model
    ...said("guten morgen", 15.2, 16.8, "de"),
  ];
  const longText = "The cat sat on the mat. Hello there. Thank you. One more line here line here. Guten Morgen.";
  const a = attribute(utterances, short, hyp, chunks, longText);

  it("puts each long-form error down to its cause", () => {
    expect(a.rows.map((r) => r.causes)).toEqual([
      {},
      { "cut at chunk boundary": 1 },
      { invented: 2, repetition: 2 },
      { "dropped by VAD": 2 },
      { "wrong language": 2 },
    ]);
    expect(a.rows.map((r) => [r.shortErrors, r.longErrors])).toEqual([
      [0, 0],
      [0, 1],
      [1, 4],
      [0, 2],
      [0, 2],
    ]);
  });

  it("counts a word placed outside its utterance as drift, not as an error", () => {
    expect(a.rows[0]!.drifted).toBe(1);
    expect(a.drifted).toBe(1);
  });

  it("totals the excess over short form by each utterance's main cause", () => {
    expect(a.excessByCause).toMatchObject({ "cut at chunk boundary": 1, repetition: 3, "dropped by VAD": 2, "wrong language": 2, invented: 0, other: 0 });
    expect(a.causes).toMatchObject({ invented: 2, repetition: 2, other: 0 });
    expect(a.words).toBe(17);
    expect(a.shortWer).toBeCloseTo(1 / 17);
    // Text alone pairs "line here" with "gone entirely"; the rows, aligned by time, do not.
    expect(a.longWer).toBeCloseTo(6 / 17);
    expect(a.alignedWer).toBeCloseTo(9 / 17);
  });

  it("prints a row per utterance and the totals", () => {
    const text = formatAttribution(a);
    expect(text).toContain("  1     3.0     4.4      3     0     1  +1  cut at chunk boundary:1");
    expect(text).toMatch(/dropped by VAD\s+2\s+2/);
    expect(text).toContain("WER short-form 5.88 %, long-form 35.29 % (Δ 29.41 points; 52.94 % aligned by time");
  });
});
