import { deflateSync } from "node:zlib";

/**
 * The checks openai/whisper uses to decide a decode went wrong, plus a hard stop on
 * token loops: the failures users report most on long audio are a phrase repeated
 * until the token limit, and confident text invented over silence or music.
 */
export const QUALITY = {
  /** Re-decode hotter when the text compresses better than this (repetitive). */
  compressionRatioThreshold: 2.4,
  /** Re-decode hotter when the average token log-probability is below this. */
  logprobThreshold: -1.0,
  /** Treat as silence when no-speech probability is above this and the decode is unsure. */
  noSpeechThreshold: 0.6,
  temperatures: [0, 0.2, 0.4, 0.6, 0.8, 1.0] as readonly number[],
};

/**
 * The temperatures to try in turn when asked to start at `start`: `start` itself,
 * then the schedule's hotter steps. 0 is the original's whole schedule; OpenAI's
 * API documents a temperature above 0 as where that schedule starts.
 */
export function temperaturesFrom(start: number): number[] {
  return [start, ...QUALITY.temperatures.filter((t) => t > start + 1e-6)];
}

/** zlib's ratio on the UTF-8 text, as the original computes it. */
export function compressionRatio(text: string): number {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length === 0) return 0;
  return bytes.length / deflateSync(bytes).length;
}

/**
 * If the text tokens end in a block repeated back to back often enough to be a
 * decoding loop, how many tokens to keep (the text up to the end of the first copy).
 * A word said twice or a short phrase said three times is speech; the same block
 * filling 32 tokens or more, at least three times over, is a loop.
 */
export function loopCut(textTokens: readonly number[], maxPeriod = 64, minSpan = 32): number | null {
  const n = textTokens.length;
  for (let period = 1; period <= Math.min(maxPeriod, Math.floor(n / 3)); period++) {
    let repeats = 1;
    while (repeats * period + period <= n && sameBlock(textTokens, n - period, n - (repeats + 1) * period, period)) repeats++;
    if (repeats >= Math.max(3, Math.ceil(minSpan / period))) return n - (repeats - 1) * period;
  }
  return null;
}

function sameBlock(tokens: readonly number[], a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (tokens[a + i] !== tokens[b + i]) return false;
  return true;
}

/** Lowercase words without punctuation or a leading "and/so/but", for comparing segments. */
function gist(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s']/gu, " ")
    .trim()
    .split(/\s+/)
    .filter((w, i) => !(i === 0 && ["and", "so", "but", "then"].includes(w)))
    .join(" ");
}

/**
 * Indices of segments that say again what the segment before them said: the
 * other shape of a loop, one sentence re-issued with new timestamps and a
 * changed first word, which token-level repetition does not see. Short
 * segments ("Thank you.", "No.") may repeat in speech and are left alone.
 */
export function repeatedSegments(texts: readonly string[], minWords = 4): number[] {
  const out: number[] = [];
  for (let i = 1; i < texts.length; i++) {
    const g = gist(texts[i]!);
    if (g.split(" ").length >= minWords && g === gist(texts[i - 1]!)) out.push(i);
  }
  return out;
}

export interface DecodeQuality {
  avgLogprob: number;
  compressionRatio: number;
  noSpeechProb: number;
  looped: boolean;
}

/** Silence: the model thinks there is no speech and is not sure of what it wrote. */
export function isSilence(q: DecodeQuality): boolean {
  return q.noSpeechProb > QUALITY.noSpeechThreshold && q.avgLogprob < QUALITY.logprobThreshold;
}

/** Whether to try again at the next temperature. */
export function needsFallback(q: DecodeQuality): boolean {
  if (isSilence(q)) return false;
  return q.looped || q.compressionRatio > QUALITY.compressionRatioThreshold || q.avgLogprob < QUALITY.logprobThreshold;
}
