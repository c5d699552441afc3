// How far long-form segment starts sit from where the speech they open begins.
// The reference gives each utterance's span in the file; the speech inside it
// starts later than the span (a clip's own lead-in). Two onsets, each with its
// bias: the first sound above the floor (on clips joined by digital silence that
// is often the clip's room tone, up to half a second before the first word) and
// the first frame Silero VAD calls speech (blind to the room tone, but its
// frames are 32 ms and it can fire a frame or two early).

import { DEFAULT_LEVELING, FRAME_SEC, stretches } from "../engine/level-utterances.ts";
import { FRAME as VAD_FRAME, type SpeechDetector } from "../media/speech-detector.ts";

const SAMPLE_RATE = 16_000;

/** Seconds from the file's start to the first stretch of sound inside [fromSec, toSec). */
export function speechOnset(samples: Float32Array, fromSec: number, toSec: number): number {
  const from = Math.max(0, Math.round(fromSec * SAMPLE_RATE));
  const span = samples.subarray(from, Math.min(samples.length, Math.round(toSec * SAMPLE_RATE)));
  const first = stretches(span, DEFAULT_LEVELING.aboveFloorDb)[0];
  return first ? fromSec + first.from * FRAME_SEC : fromSec;
}

/** Seconds from the file's start to the first VAD speech frame inside [fromSec, toSec); `detector` has heard the whole file from sample 0. */
export function vadOnset(detector: Pick<SpeechDetector, "speechIn">, fromSec: number, toSec: number): number {
  const to = Math.round(toSec * SAMPLE_RATE);
  for (let at = Math.max(0, Math.round(fromSec * SAMPLE_RATE)); at < to; at += VAD_FRAME) if (detector.speechIn(at, at + 1)) return at / SAMPLE_RATE;
  return fromSec;
}

export interface StartErrors {
  /** Per utterance: segment start minus speech onset, or null when no segment starts it. */
  offsets: Array<number | null>;
  medianAbs: number;
  p90Abs: number;
  /** Share of the utterances with a segment start within `withinSec` of the onset. */
  within: number;
  withinSec: number;
}

/**
 * For each utterance, the segment start nearest its onset among those that can
 * open it (from a second before the span to halfway into it); utterances that
 * begin inside another segment have none and count as misses in `within`.
 */
export function startErrors(
  utterances: ReadonlyArray<{ start: number; end: number }>,
  onsets: readonly number[],
  segmentStarts: readonly number[],
  withinSec = 0.3,
): StartErrors {
  const offsets = utterances.map((u, k) => {
    const onset = onsets[k]!;
    const candidates = segmentStarts.filter((s) => s >= u.start - 1 && s <= u.start + (u.end - u.start) / 2);
    if (candidates.length === 0) return null;
    return candidates.reduce((best, s) => (Math.abs(s - onset) < Math.abs(best - onset) ? s : best)) - onset;
  });
  const abs = offsets.filter((o): o is number => o !== null).map(Math.abs);
  abs.sort((a, b) => a - b);
  const at = (q: number) => (abs.length === 0 ? Number.NaN : abs[Math.min(abs.length - 1, Math.floor(q * abs.length))]!);
  return {
    offsets,
    medianAbs: at(0.5),
    p90Abs: at(0.9),
    within: utterances.length === 0 ? 0 : abs.filter((a) => a <= withinSec).length / utterances.length,
    withinSec,
  };
}
