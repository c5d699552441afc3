import { expect, it } from "vitest";
import { toBcp47, toWhisperLanguage, WHISPER_LANGUAGES } from "./languages.ts";

it("maps user spellings to Whisper's codes and back to BCP 47", () => {
  expect(Object.keys(WHISPER_LANGUAGES)).toHaveLength(100);
  expect(["en", "EN", "en-US", "de_DE", "zh-Hant", "jv", "jw", "haw", "yue"].map(toWhisperLanguage)).toEqual([
    "en",
    "en",
    "en",
    "de",
    "zh",
    "jw",
    "jw",
    "haw",
    "yue",
  ]);
  expect(["xx", "", "klingon", "english"].map(toWhisperLanguage)).toEqual([null, null, null, null]);
  expect(["jw", "en", "yue"].map(toBcp47)).toEqual(["jv", "en", "yue"]);
});
