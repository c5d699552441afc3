import { describe, expect, it } from "vitest";
import { languageRedo, leaderOf, rangeLanguage, streamLanguage } from "./language-vote.ts";

describe("the language vote", () => {
  it("sums each language's weight and reports the leader's share", () => {
    expect(
      leaderOf([
        { language: "en", weight: 30 },
        { language: "de", weight: 50 },
        { language: "en", weight: 40 },
      ]),
    ).toEqual({ language: "en", weight: 70, share: 70 / 120 });
    expect(leaderOf([])).toBeNull();
    expect(
      leaderOf([
        { language: "fr", weight: 1 },
        { language: "de", weight: 1 },
      ])?.language,
    ).toBe("de");
  });

  it("a machine's stream follows the long chunks' probabilities, not the count of short ones", () => {
    const chunks: Array<{ durationSec: number; languageProbs: Record<string, number> | null }> = [
      { durationSec: 28, languageProbs: { en: 0.9, nn: 0.1 } },
      { durationSec: 2, languageProbs: { nn: 0.8, en: 0.2 } },
      { durationSec: 2, languageProbs: { cy: 0.7, en: 0.3 } },
      { durationSec: 5, languageProbs: null },
    ];
    expect(streamLanguage(chunks)).toBe("en");
    expect(streamLanguage([{ durationSec: 5, languageProbs: null }])).toBeNull();
  });

  it("forces new ranges into the leader only once 60 s of speech gave it 60 %", () => {
    expect(rangeLanguage("de", null, [{ language: "en", weight: 500 }])).toBe("de");
    expect(rangeLanguage("auto", "fr", [{ language: "en", weight: 500 }])).toBe("fr");
    expect(rangeLanguage("auto", null, [{ language: "en", weight: 59 }])).toBeNull();
    expect(rangeLanguage("auto", null, [{ language: "en", weight: 60 }])).toBe("en");
    expect(
      rangeLanguage("auto", null, [
        { language: "en", weight: 59 },
        { language: "de", weight: 41 },
      ]),
    ).toBeNull();
    expect(
      rangeLanguage("auto", null, [
        { language: "en", weight: 60 },
        { language: "de", weight: 40 },
      ]),
    ).toBe("en");
  });

  it("redoes disagreeing ranges only in a recording that is 80 % one language", () => {
    const ranges = [
      { range_index: 0, language: "en" },
      { range_index: 1, language: "nn" },
      { range_index: 2, language: "en" },
    ];
    expect(
      languageRedo(
        [
          { language: "en", weight: 85 },
          { language: "nn", weight: 15 },
        ],
        ranges,
      ),
    ).toEqual({ settle: "en", redo: [{ range_index: 1, language: "nn" }] });
    expect(
      languageRedo(
        [
          { language: "en", weight: 79 },
          { language: "nn", weight: 21 },
        ],
        ranges,
      ),
    ).toBeNull();
    expect(
      languageRedo(
        [{ language: "en", weight: 100 }],
        ranges.filter((r) => r.language === "en"),
      ),
    ).toEqual({ settle: "en", redo: [] });
    expect(languageRedo([], ranges)).toBeNull();
  });
});
