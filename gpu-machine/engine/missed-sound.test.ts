import { describe, expect, it } from "vitest";
import { toneBursts } from "../../test/support/tone-bursts.ts";
import { heardSpan, likelyInvented, missedSpans, repeatsNeighbours, saidAgain, soundOf } from "./missed-sound.ts";

/** A word's times. */
const w = (startSec: number, endSec: number) => ({ startSec, endSec });

describe("sound no segment covers", () => {
  // Sound at 1–6 s, 9–13 s and 20–24 s of a 28 s chunk, over a faint floor.
  const chunk = toneBursts(
    28,
    [
      [1, 6, 0.2],
      [9, 13, 0.2],
      [20, 24, 0.2],
    ],
    0.0005,
  );

  it("finds an utterance passed over between segments and one left out at the end", () => {
    const spans = missedSpans(
      [
        { fromSec: 0.8, toSec: 6.2 },
        { fromSec: 19.8, toSec: 21 },
      ],
      chunk,
    );
    expect(spans).toEqual([
      { fromSec: 6.2, toSec: 19.8 },
      { fromSec: 21, toSec: 28 },
    ]);
  });

  it("finds sound before the first segment, with no slack needed at the chunk's start", () => {
    expect(missedSpans([{ fromSec: 9, toSec: 24 }], chunk)).toEqual([{ fromSec: 0, toSec: 9 }]);
  });

  it("finds an utterance under a segment whose first word comes seconds after its timestamp, and no more", () => {
    // Whisper's segment opens at 6.2 s over the 9–13 s utterance, but its words begin at 20 s.
    const skipped = { startSec: 6.2, endSec: 24, words: [w(20, 21.5), w(22, 23.8)] };
    expect(heardSpan(skipped)).toEqual({ fromSec: 20, toSec: 24 });
    expect(missedSpans([{ fromSec: 0.8, toSec: 6.2 }, heardSpan(skipped)], chunk)).toEqual([{ fromSec: 6.2, toSec: 20 }]);
    // Words that start with their segment, or within a second of it, leave it whole.
    for (const words of [[w(6.2, 6.5), w(23, 23.5)], [w(7, 7.4), w(23.4, 23.8)], []]) {
      expect(heardSpan({ startSec: 6.2, endSec: 24, words })).toEqual({ fromSec: 6.2, toSec: 24 });
    }
    expect(heardSpan({ startSec: 6.2, endSec: 24 })).toEqual({ fromSec: 6.2, toSec: 24 });
  });

  it("finds an utterance a segment runs on over after its words end", () => {
    // One segment from 0.8 s to 13.2 s whose words are all in the first utterance (1–6 s): the 9–13 s one was not heard.
    const ranOn = { startSec: 0.8, endSec: 13.2, words: [w(1, 1.4), w(1.4, 2.2), w(5.2, 5.9)] };
    expect(heardSpan(ranOn)).toEqual({ fromSec: 0.8, toSec: 5.9 });
    expect(missedSpans([heardSpan(ranOn), { fromSec: 19.8, toSec: 24 }], chunk)).toEqual([{ fromSec: 5.9, toSec: 19.8 }]);
    // A segment whose words end within a second of it, each in a word's time, is whole.
    expect(heardSpan({ startSec: 0.8, endSec: 6.2, words: [w(1, 1.5), w(5.2, 5.6)] })).toEqual({ fromSec: 0.8, toSec: 6.2 });
    expect(heardSpan({ startSec: 0.8, endSec: 6.2, words: [w(1, 1.5), w(4.9, 5.3)] })).toEqual({ fromSec: 0.8, toSec: 6.2 });
  });

  it("leaves alone spaces of silence, sound that merely spills past a segment's coarse end, and chunks with no segments", () => {
    expect(
      missedSpans(
        [
          { fromSec: 1, toSec: 5.8 },
          { fromSec: 9, toSec: 13 },
          { fromSec: 20, toSec: 24 },
        ],
        chunk,
      ),
    ).toEqual([]);
    expect(missedSpans([], chunk)).toEqual([]);
  });

  it("drops a span's decode that only repeats the segments beside it", () => {
    expect(repeatsNeighbours("Then said the eunuch.", ["Then said the eunuch.", "Who then was the reciter?"])).toBe(true);
    expect(repeatsNeighbours("who hath not at present his heart", ["the block books", "what hath happened unto me"])).toBe(false);
    expect(repeatsNeighbours("...", ["anything"])).toBe(true);
  });

  it("judges the unsure decodes of leftover sound as invented", () => {
    expect(likelyInvented({ noSpeechProb: 0.83, avgLogprob: -0.9 })).toBe(true); // "you"
    expect(likelyInvented({ noSpeechProb: 0.46, avgLogprob: -0.87 })).toBe(false);
    expect(likelyInvented({ noSpeechProb: 0.9, avgLogprob: -0.3 })).toBe(false);
  });

  it("keeps a repeated sentence that the sound beside it can hold, not a re-read tail", () => {
    // 1–6 s: a sentence; 9–13 s: the same sentence said again (4 s of sound).
    const sound = soundOf(chunk);
    const sentence = "Then said the eunuch to the king.";
    expect(repeatsNeighbours(sentence, [sentence, ""])).toBe(true);
    expect(saidAgain(sentence, { fromSec: 8.8, toSec: 13.2 }, sound)).toBe(true);
    // The same words put over a second of the first sentence's end: a segment's times were off.
    expect(saidAgain(sentence, { fromSec: 5.2, toSec: 6.2 }, sound)).toBe(false);
    // Over silence, or a word or two doubled at a cut, it stays a repeat.
    expect(saidAgain(sentence, { fromSec: 14, toSec: 19 }, sound)).toBe(false);
    expect(saidAgain("the king.", { fromSec: 9, toSec: 13 }, sound)).toBe(false);
  });
});
