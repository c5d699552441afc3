import { describe, expect, it } from "vitest";
import type { Segment, Word } from "../../shared/segment.ts";
import { labelSegments, speakersOf } from "./label-segments.ts";
import type { SpeakerTurn } from "./range-diarizer.ts";

const turn = (start_sec: number, end_sec: number, speaker: string): SpeakerTurn => ({ start_sec, end_sec, speaker });
const word = (w: string, start_sec: number, end_sec: number): Word => ({ word: w, start_sec, end_sec, probability: 0.9 });
const segment = (start_sec: number, end_sec: number, text: string, words?: Word[], language = "en"): Segment => ({
  start_sec,
  end_sec,
  text,
  language,
  avg_logprob: -0.2,
  no_speech_prob: 0.01,
  compression_ratio: 1.4,
  ...(words ? { words } : {}),
});

describe("labelSegments", () => {
  it("gives a segment without words the speaker with most talk inside it, unsplit", () => {
    const turns = [turn(300, 303, "0"), turn(303.2, 310, "1")];
    const out = labelSegments([segment(300.5, 309, "two voices, no words")], turns);
    expect(out).toEqual([{ ...segment(300.5, 309, "two voices, no words"), speaker: "1" }]);
  });

  it("splits a segment where the speaker changes, on the word boundary", () => {
    // "Are you coming? Yes, right now." — the question from speaker 0, the answer from speaker 1.
    const words = [
      word("Are", 10.0, 10.2),
      word("you", 10.2, 10.4),
      word("coming?", 10.4, 11.0),
      word("Yes,", 11.5, 11.9),
      word("right", 12.0, 12.3),
      word("now.", 12.3, 12.8),
    ];
    const turns = [turn(9.9, 11.1, "0"), turn(11.4, 12.9, "1")];
    const out = labelSegments([segment(10, 12.8, "Are you coming? Yes, right now.", words)], turns);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({
      start_sec: 10,
      end_sec: 11,
      text: "Are you coming?",
      speaker: "0",
      language: "en",
      avg_logprob: -0.2,
      compression_ratio: 1.4,
    });
    expect(out[1]).toMatchObject({ start_sec: 11.5, end_sec: 12.8, text: "Yes, right now.", speaker: "1", language: "en", avg_logprob: -0.2 });
    expect(out[0]!.words!.map((w) => [w.word, w.speaker])).toEqual([
      ["Are", "0"],
      ["you", "0"],
      ["coming?", "0"],
    ]);
    expect(out[1]!.words!.every((w) => w.speaker === "1")).toBe(true);
  });

  it("does not split off a word that only straddles the edge of a turn", () => {
    // The segmentation ends speaker 0's turn 0.2 s early: "here." falls mostly in speaker 1's turn.
    const words = [word("I", 20.0, 20.2), word("was", 20.2, 20.5), word("over", 20.5, 20.9), word("here.", 20.9, 21.3)];
    const turns = [turn(19.9, 21.0, "0"), turn(21.0, 25, "1")];
    const [only, ...rest] = labelSegments([segment(20, 21.3, "I was over here.", words)], turns);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ start_sec: 20, end_sec: 21.3, text: "I was over here.", speaker: "0" });
    expect(only!.words!.every((w) => w.speaker === "0")).toBe(true);
  });

  it("labels a segment between turns with the nearest one, and leaves one far from any unlabelled", () => {
    const turns = [turn(0, 5, "0"), turn(20, 25, "1")];
    const [near, far] = labelSegments([segment(5.4, 7, "just after"), segment(11, 13, "in the middle")], turns);
    expect(near!.speaker).toBe("0");
    expect(far).not.toHaveProperty("speaker");
  });

  it("joins the words of a language without spaces without them", () => {
    const words = [word("你", 1.0, 1.3), word("好", 1.3, 1.6), word("谢", 2.0, 2.4), word("谢", 2.4, 2.8)];
    const out = labelSegments([segment(1, 2.8, "你好谢谢", words, "zh")], [turn(0.9, 1.7, "0"), turn(1.9, 3, "1")]);
    expect(out.map((s) => [s.text, s.speaker])).toEqual([
      ["你好", "0"],
      ["谢谢", "1"],
    ]);
  });

  it("keeps segments in order and without turns labels nothing", () => {
    const segments = [segment(0, 2, "a"), segment(2, 4, "b")];
    expect(labelSegments(segments, [])).toEqual(segments);
  });
});

describe("speakersOf", () => {
  it("names the speaker of segments already posted by the final turns, without splitting them", () => {
    // Posted while the range ran: one segment across a change, one in a gap near a turn, one far from any.
    const turns = [turn(10, 14, "1"), turn(14.2, 20, "0")];
    const posted = [segment(10.5, 15, "mostly one"), segment(13, 19, "mostly zero"), segment(20.8, 21.5, "just after"), segment(40, 42, "alone")];
    expect(speakersOf(posted, turns)).toEqual(["1", "0", "0", null]);
    expect(speakersOf(posted, [])).toEqual([null, null, null, null]);
  });
});
