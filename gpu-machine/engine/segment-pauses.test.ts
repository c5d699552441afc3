import { describe, expect, it } from "vitest";
import { cutAtPauses } from "./segment-pauses.ts";
import type { TokenWord } from "./word-timing.ts";

// A toy vocabulary: one token per word piece, the piece's text is the token's entry.
const PIECES = [" beautiful", " letters", ",", " the", " middle", " ages", "."];
const decode = (tokens: number[]) => tokens.map((t) => PIECES[t]).join("");
const segment = { startSec: 1.2, endSec: 8, text: "beautiful letters, the middle ages.", tokens: [0, 1, 2, 3, 4, 5, 6], language: "en" };
/** Words of the segment; "letters," (tokens 1–2) ends at 3 s, "the" starts at `resume`. */
function words(resume: number): TokenWord[] {
  return [
    { word: "beautiful", startSec: 1.6, endSec: 2.4, probability: 0.9, lastToken: 0 },
    { word: "letters,", startSec: 2.4, endSec: 3, probability: 0.9, lastToken: 2 },
    { word: "the", startSec: resume, endSec: resume + 0.2, probability: 0.9, lastToken: 3 },
    { word: "middle", startSec: resume + 0.2, endSec: resume + 0.6, probability: 0.9, lastToken: 4 },
    { word: "ages.", startSec: resume + 0.6, endSec: resume + 1.2, probability: 0.9, lastToken: 6 },
  ];
}

describe("cutAtPauses", () => {
  it("cuts a segment where a second of silence lies between two words, each part with its own text, tokens, words and times", () => {
    const parts = cutAtPauses(segment, words(4.1), decode);
    expect(parts.map((p) => [p.text, p.tokens, p.startSec, p.endSec, p.words.map((w) => w.word)])).toEqual([
      ["beautiful letters,", [0, 1, 2], 1.2, 3, ["beautiful", "letters,"]],
      ["the middle ages.", [3, 4, 5, 6], 4.1, 8, ["the", "middle", "ages."]],
    ]);
    // Each word's last token is counted in its part's tokens; the other fields are the segment's.
    expect(parts.map((p) => p.words.map((w) => w.lastToken))).toEqual([
      [0, 2],
      [0, 1, 3],
    ]);
    expect(parts[1]!.language).toBe("en");
  });

  it("leaves a segment whole across shorter pauses, and one without words as it is", () => {
    const [whole, ...rest] = cutAtPauses(segment, words(3.9), decode);
    expect(rest).toEqual([]);
    expect(whole).toMatchObject({ text: segment.text, tokens: segment.tokens, startSec: 1.2, endSec: 8 });
    expect(whole!.words).toEqual(words(3.9));
    expect(cutAtPauses(segment, [], decode)).toEqual([{ ...segment, words: [] }]);
  });
});
