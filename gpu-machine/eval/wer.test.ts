import { describe, expect, it } from "vitest";
import { wordErrorRate, wordErrors } from "./wer.ts";

describe("wordErrors", () => {
  it("counts nothing for identical text, whatever the spacing", () => {
    expect(wordErrors("the cat sat", "  the  cat\tsat ")).toEqual({ substitutions: 0, deletions: 0, insertions: 0, words: 3 });
  });

  it("counts a substitution", () => {
    expect(wordErrors("the cat sat on the mat", "the cat sat on the hat")).toEqual({ substitutions: 1, deletions: 0, insertions: 0, words: 6 });
  });

  it("counts a deletion", () => {
    expect(wordErrors("the cat sat on the mat", "the cat on the mat")).toEqual({ substitutions: 0, deletions: 1, insertions: 0, words: 6 });
  });

  it("counts an insertion", () => {
    expect(wordErrors("the cat sat on the mat", "the fat cat sat on the mat")).toEqual({ substitutions: 0, deletions: 0, insertions: 1, words: 6 });
  });

  it("finds the cheapest alignment of mixed errors", () => {
    // "a" deleted, "d" -> "x", "f" inserted
    expect(wordErrors("a b c d e", "b c x e f")).toEqual({ substitutions: 1, deletions: 1, insertions: 1, words: 5 });
    // shifting by one word costs a deletion and an insertion, not five substitutions
    expect(wordErrors("one two three four five", "two three four five six")).toEqual({ substitutions: 0, deletions: 1, insertions: 1, words: 5 });
  });

  it("prefers substitutions among equally cheap alignments", () => {
    expect(wordErrors("a b", "c d")).toEqual({ substitutions: 2, deletions: 0, insertions: 0, words: 2 });
    expect(wordErrors("a b c", "x")).toEqual({ substitutions: 1, deletions: 2, insertions: 0, words: 3 });
  });

  it("handles empty sides", () => {
    expect(wordErrors("", "")).toEqual({ substitutions: 0, deletions: 0, insertions: 0, words: 0 });
    expect(wordErrors("one two", "")).toEqual({ substitutions: 0, deletions: 2, insertions: 0, words: 2 });
    expect(wordErrors(" ", "one two three")).toEqual({ substitutions: 0, deletions: 0, insertions: 3, words: 0 });
  });

  it("compares words exactly: normalising is the caller's job", () => {
    expect(wordErrors("Hello world", "hello world.")).toEqual({ substitutions: 2, deletions: 0, insertions: 0, words: 2 });
  });

  it("aligns long transcripts", () => {
    const reference = Array.from({ length: 3000 }, (_, i) => `w${i % 97}`);
    const hypothesis = reference.filter((_, i) => i % 10 !== 0).map((w, i) => (i % 50 === 0 ? "wrong" : w));
    const e = wordErrors(reference.join(" "), hypothesis.join(" "));
    expect(e.words).toBe(3000);
    expect(e.deletions).toBe(300);
    expect(e.substitutions).toBe(54);
    expect(e.insertions).toBe(0);
  });
});

describe("wordErrorRate", () => {
  it("normalises both sides with the English normaliser by default", () => {
    const result = wordErrorRate([
      { reference: "He paid twenty-five dollars in nineteen eighty four.", hypothesis: "he paid $25 in 1984" },
      { reference: "The colour, um, of the theatre", hypothesis: "the color of the theater" },
    ]);
    expect(result).toEqual({ wer: 0, errors: 0, words: 11, substitutions: 0, deletions: 0, insertions: 0 });
  });

  it("scores raw text when given the identity as normaliser", () => {
    const result = wordErrorRate([{ reference: "Hello, World", hypothesis: "hello world" }], (text) => text);
    expect(result.substitutions).toBe(2);
    expect(result.wer).toBe(1);
  });

  it("divides total errors by total reference words across the corpus", () => {
    const result = wordErrorRate([
      { reference: "red green blue black", hypothesis: "red green blue black" },
      { reference: "the quick brown fox jumps", hypothesis: "the quick fox jumped" },
      { reference: "", hypothesis: "hello" },
      { reference: "a b c", hypothesis: "a b c d" },
    ]);
    // pair 2: "brown" deleted, "jumps" -> "jumped"; pair 3 and 4: one insertion each
    expect(result).toEqual({ wer: 4 / 12, errors: 4, words: 12, substitutions: 1, deletions: 1, insertions: 2 });
  });

  it("is not the mean of per-utterance rates", () => {
    const result = wordErrorRate([
      { reference: "a", hypothesis: "b" },
      { reference: "c d e f g h i j k", hypothesis: "c d e f g h i j k" },
    ]);
    expect(result.wer).toBeCloseTo(0.1);
  });

  it("reports an empty corpus as perfect and insertions alone as unbounded", () => {
    expect(wordErrorRate([]).wer).toBe(0);
    expect(wordErrorRate([{ reference: "", hypothesis: "" }]).wer).toBe(0);
    const inserted = wordErrorRate([{ reference: "[MUSIC]", hypothesis: "thank you" }]);
    expect(inserted).toEqual({ wer: Infinity, errors: 2, words: 0, substitutions: 0, deletions: 0, insertions: 2 });
  });
});
