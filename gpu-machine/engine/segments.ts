import type { Vocab } from "./vocab.ts";

/** A stretch of text between two timestamp tokens, times relative to its window. */
export interface TokenSegment {
  startSec: number;
  endSec: number;
  tokens: number[];
  /** Index of the segment's first text token among the sequence's sampled tokens. */
  firstIndex: number;
}

/**
 * Splits sampled tokens into segments the way openai/whisper does: a pair of
 * timestamps closes one segment and opens the next. Text after the last timestamp
 * (a sequence cut short) runs to the end of the audio.
 */
export function splitSegments(sampled: readonly number[], vocab: Pick<Vocab, "isTimestamp" | "timestampSec">, audioSec: number): TokenSegment[] {
  const segments: TokenSegment[] = [];
  let start: number | null = null;
  let text: number[] = [];
  let firstIndex = -1;
  const clamp = (sec: number) => Math.min(Math.max(sec, 0), audioSec);
  sampled.forEach((token, i) => {
    if (vocab.isTimestamp(token)) {
      const at = vocab.timestampSec(token);
      if (text.length > 0) {
        segments.push({ startSec: clamp(start ?? 0), endSec: clamp(Math.max(at, start ?? 0)), tokens: text, firstIndex });
        text = [];
        start = null;
      } else start = at;
    } else {
      if (text.length === 0) firstIndex = i;
      text.push(token);
    }
  });
  if (text.length > 0) segments.push({ startSec: clamp(start ?? 0), endSec: audioSec, tokens: text, firstIndex });
  return segments;
}
