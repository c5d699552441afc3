import { SAMPLE_RATE } from "../media/pcm.ts";
import { TIMESTAMP_STEP_SEC, type Vocab } from "./vocab.ts";

export interface TimedWord {
  word: string;
  startSec: number;
  endSec: number;
  /** Mean probability of the word's tokens. */
  probability: number;
}

/** A word with the index (in its segment's text tokens) of its last token, so a segment can be cut between words. */
export interface TokenWord extends TimedWord {
  lastToken: number;
}

/** Languages written without spaces: split into characters rather than words. */
const NO_SPACE_LANGUAGES = new Set(["zh", "ja", "th", "lo", "my", "yue"]);
const PREPEND = `"'“¿([{-`;
const APPEND = `"'.。,，!！?？:：”)]}、`;

/**
 * Token start times from cross-attention, as openai/whisper's find_alignment does:
 * for each alignment head, normalise each frame over tokens, median-filter along
 * time, average the heads, then a monotonic path by dynamic time warping. `rows`:
 * per head, one attention row per token (its query position), cropped to the audio.
 * Returns the start time of each row's token.
 */
export function tokenStartTimes(rows: Float32Array[][], medianWidth = 7): number[] {
  const heads = rows.length;
  const tokens = rows[0]?.length ?? 0;
  const frames = rows[0]?.[0]?.length ?? 0;
  if (tokens === 0 || frames === 0) return [];
  const matrix = new Float64Array(tokens * frames);
  // One token's row at a time in flat arrays: this runs for every chunk with word
  // timestamps, on the thread that also feeds the pipeline.
  const w = new Float64Array(tokens * frames);
  const filtered = new Float64Array(frames);
  const mean = new Float64Array(frames);
  const std = new Float64Array(frames);
  for (const head of rows) {
    // Rows were softmaxed over all 1500 frames; renormalising over the audio's
    // frames equals a softmax over just those frames.
    for (let t = 0; t < tokens; t++) {
      const row = head[t]!;
      let sum = 0;
      for (let f = 0; f < frames; f++) sum += row[f]!;
      sum ||= 1;
      for (let f = 0; f < frames; f++) w[t * frames + f] = row[f]! / sum;
    }
    // Each frame standardised over the tokens, summed token by token (row order, for the cache).
    mean.fill(0);
    std.fill(0);
    for (let t = 0; t < tokens; t++) for (let f = 0; f < frames; f++) mean[f]! += w[t * frames + f]!;
    for (let f = 0; f < frames; f++) mean[f]! /= tokens;
    for (let t = 0; t < tokens; t++)
      for (let f = 0; f < frames; f++) {
        const d = w[t * frames + f]! - mean[f]!;
        std[f]! += d * d;
      }
    for (let f = 0; f < frames; f++) std[f] = Math.sqrt(std[f]! / tokens) || 1;
    for (let t = 0; t < tokens; t++) for (let f = 0; f < frames; f++) w[t * frames + f] = (w[t * frames + f]! - mean[f]!) / std[f]!;
    for (let t = 0; t < tokens; t++) {
      medianFilter(w.subarray(t * frames, (t + 1) * frames), medianWidth, filtered);
      for (let f = 0; f < frames; f++) matrix[t * frames + f]! += filtered[f]! / heads;
    }
  }
  const path = dtw(matrix, tokens, frames);
  const starts: number[] = new Array<number>(tokens).fill(0);
  let previous = -1;
  for (const [t, f] of path) {
    if (t !== previous) starts[t] = f * TIMESTAMP_STEP_SEC;
    previous = t;
  }
  return starts;
}

/**
 * The running median of `values` over `width` (odd) into `out`, reflected at the
 * edges as scipy/torch's reflect padding does. The window is kept sorted and slid
 * one value out, one in: a few comparisons a frame, for every token of every
 * alignment head of every chunk with word timestamps.
 */
export function medianFilter(values: Float64Array, width: number, out: Float64Array): void {
  const half = (width - 1) >> 1;
  const n = values.length;
  const sorted = new Float64Array(width);
  for (let k = 0; k < width; k++) insertSorted(sorted, k, values[reflect(k - half, n)]!);
  out[0] = sorted[half]!;
  for (let i = 1; i < n; i++) {
    const gone = values[reflect(i - 1 - half, n)]!;
    let at = 0;
    while (at < width - 1 && sorted[at] !== gone) at++;
    for (; at < width - 1; at++) sorted[at] = sorted[at + 1]!;
    insertSorted(sorted, width - 1, values[reflect(i + half, n)]!);
    out[i] = sorted[half]!;
  }
}

/** Puts `v` into the sorted `sorted[0 … count)`, making it one longer. */
function insertSorted(sorted: Float64Array, count: number, v: number): void {
  let at = count;
  while (at > 0 && sorted[at - 1]! > v) {
    sorted[at] = sorted[at - 1]!;
    at--;
  }
  sorted[at] = v;
}

function reflect(j: number, n: number): number {
  let r = j < 0 ? -j : j;
  if (r >= n) r = 2 * n - 2 - r;
  return Math.min(Math.max(r, 0), n - 1);
}

/** Path through the cost -matrix from (0,0) to (tokens-1, frames-1), moving down, right or diagonally. */
function dtw(matrix: Float64Array, tokens: number, frames: number): Array<[number, number]> {
  const cost = new Float64Array((tokens + 1) * (frames + 1)).fill(Infinity);
  const trace = new Int8Array((tokens + 1) * (frames + 1));
  const W = frames + 1;
  cost[0] = 0;
  // Row by row: each cell needs only its left, upper and upper-left neighbours.
  for (let i = 1; i <= tokens; i++) {
    for (let j = 1; j <= frames; j++) {
      const c0 = cost[(i - 1) * W + j - 1]!;
      const c1 = cost[(i - 1) * W + j]!;
      const c2 = cost[i * W + j - 1]!;
      let best = c0;
      let t = 0;
      if (c1 < best) [best, t] = [c1, 1];
      if (c2 < best) [best, t] = [c2, 2];
      cost[i * W + j] = best - matrix[(i - 1) * frames + j - 1]!;
      trace[i * W + j] = t;
    }
  }
  const path: Array<[number, number]> = [];
  let [i, j] = [tokens, frames];
  while (i > 0 && j > 0) {
    path.push([i - 1, j - 1]);
    const t = trace[i * W + j];
    if (t === 0) [i, j] = [i - 1, j - 1];
    else if (t === 1) i -= 1;
    else j -= 1;
  }
  return path.reverse();
}

/**
 * Groups a segment's text tokens into words (or characters for languages written
 * without spaces). `bounds` holds each token's start time and, last, the start of
 * the token after the segment (its closing timestamp), which ends the last word.
 */
export function wordsOf(
  tokens: readonly number[],
  logprobs: readonly number[],
  bounds: readonly number[],
  vocab: Pick<Vocab, "decodeText">,
  language: string,
): TokenWord[] {
  const groups: Array<{ text: string; first: number; last: number }> = [];
  let pending: number[] = [];
  let pendingFirst = 0;
  tokens.forEach((token, i) => {
    if (pending.length === 0) pendingFirst = i;
    pending.push(token);
    const text = vocab.decodeText(pending);
    if (text.includes("\uFFFD") && i < tokens.length - 1) return; // a multi-byte character continues in the next token
    const startsWord = NO_SPACE_LANGUAGES.has(language) || text.startsWith(" ") || (text.trim() !== "" && PREPEND.includes(text.trim())) || groups.length === 0;
    const punctuation = text.trim().length > 0 && [...text.trim()].every((c) => APPEND.includes(c));
    const previous = groups[groups.length - 1];
    if (previous && (!startsWord || punctuation)) {
      previous.text += text;
      previous.last = i;
    } else groups.push({ text, first: pendingFirst, last: i });
    pending = [];
  });
  return groups
    .map((g) => {
      const startSec = bounds[g.first] ?? 0;
      const probs = logprobs.slice(g.first, g.last + 1).map(Math.exp);
      const probability = probs.length ? probs.reduce((a, b) => a + b, 0) / probs.length : 0;
      return { word: g.text.trim(), startSec, endSec: Math.max(startSec, bounds[g.last + 1] ?? startSec), probability, lastToken: g.last };
    })
    .filter((w) => w.word.length > 0);
}

/** No word takes longer to say. */
const MAX_WORD_SEC = 1.5;

/**
 * Attention puts a word's start at the end of the word before it, so a word after
 * a pause swallows the pause (openai/whisper patches this by clamping durations).
 * The audio is at hand, so trim each word to the frames that carry sound: the
 * first and last 20 ms frame within it above -30 dB of the chunk's loudest frame.
 *
 * `words` are one segment's. Its first word timed longer than MAX_WORD_SEC has
 * swallowed what comes before the word, and its last word what comes after: the
 * pause, or an utterance Whisper skipped ("Why," timed over 3.9 s of another
 * speaker's sentence; "surpassed." over the same sentence said again), whose
 * sound trimming alone would keep. Such a word is sought in MAX_WORD_SEC at its
 * far end.
 */
export function trimToSound<W extends TimedWord>(words: W[], samples: Float32Array, sampleRate = SAMPLE_RATE): W[] {
  const frame = Math.round(sampleRate * TIMESTAMP_STEP_SEC);
  const frames = Math.floor(samples.length / frame);
  const level = new Float32Array(frames);
  let loudest = 0;
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let i = f * frame; i < (f + 1) * frame; i++) sum += samples[i]! * samples[i]!;
    level[f] = Math.sqrt(sum / frame);
    loudest = Math.max(loudest, level[f]!);
  }
  const threshold = loudest * 10 ** (-30 / 20);
  const trimmed = words.map((w, i) => {
    const stretched = w.endSec - w.startSec > MAX_WORD_SEC;
    const startSec = stretched && i === 0 ? w.endSec - MAX_WORD_SEC : w.startSec;
    const endSec = stretched && i > 0 && i === words.length - 1 ? w.startSec + MAX_WORD_SEC : w.endSec;
    const from = Math.max(0, Math.floor(startSec / TIMESTAMP_STEP_SEC));
    const to = Math.min(frames, Math.ceil(endSec / TIMESTAMP_STEP_SEC));
    let first = -1;
    let last = -1;
    for (let f = from; f < to; f++) {
      if (level[f]! >= threshold) {
        if (first < 0) first = f;
        last = f;
      }
    }
    if (first < 0) return { ...w, startSec, endSec };
    return { ...w, startSec: first * TIMESTAMP_STEP_SEC, endSec: (last + 1) * TIMESTAMP_STEP_SEC };
  });
  // The frame that ends one word may begin the next: never let words overlap.
  for (let i = 0; i + 1 < trimmed.length; i++) {
    const [w, next] = [trimmed[i]!, trimmed[i + 1]!];
    if (w.endSec > next.startSec) w.endSec = Math.max(w.startSec, next.startSec);
  }
  return trimmed;
}
