import { SAMPLE_RATE } from "../media/pcm.ts";
import type { TimedWord } from "./word-timing.ts";

/**
 * Whisper opens a segment at the silence before its speech: on the constructed
 * long-form files its segment starts sat a median 0.6–0.7 s before the speech they
 * open, and only a fifth within 0.3 s of it. Subtitles then show the text early.
 * A segment with word times starts at its first word (already trimmed to sound);
 * one without starts at the first 20 ms frame at or after its timestamp (up to
 * 2 s after) that comes within 25 dB of the segment's loudest frame. Ends are
 * left as they are.
 */
const FRAME = SAMPLE_RATE / 50;
const FRAME_SEC = FRAME / SAMPLE_RATE;
/** How far after its timestamp a segment's speech may start. */
const FORWARD_SEC = 2;
/** Below the segment's loudest frame by more than this is lead-in (breath, room, a clip's noise floor). */
const ONSET_BELOW_DB = 25;

interface Timed {
  startSec: number;
  endSec: number;
  words?: TimedWord[];
}

/** `segments` (in time order, chunk times) with starts moved to their speech; `samples` is the chunk. */
export function snapStarts<T extends Timed>(segments: readonly T[], samples: Float32Array): T[] {
  const frames = Math.floor(samples.length / FRAME);
  const db = (f: number) => {
    let sum = 0;
    for (let i = f * FRAME; i < (f + 1) * FRAME; i++) sum += samples[i]! * samples[i]!;
    return 10 * Math.log10(sum / FRAME + 1e-12);
  };
  return segments.map((s, k) => {
    const first = s.words?.[0];
    if (first) return first.startSec >= s.startSec && first.startSec < s.endSec ? { ...s, startSec: first.startSec } : s;
    // Only later: allowing 0.3 s earlier changed nothing on the tuning files.
    const f0 = Math.max(0, Math.floor(s.startSec / FRAME_SEC));
    const fEnd = Math.min(frames, Math.floor(s.endSec / FRAME_SEC));
    // Never past the next segment's start, so segments stay in order.
    const fTo = Math.min(fEnd, Math.floor((s.startSec + FORWARD_SEC) / FRAME_SEC), Math.floor((segments[k + 1]?.startSec ?? Infinity) / FRAME_SEC));
    let loudest = -Infinity;
    for (let f = f0; f < fEnd; f++) loudest = Math.max(loudest, db(f));
    for (let f = f0; f < fTo; f++) if (db(f) >= loudest - ONSET_BELOW_DB) return { ...s, startSec: f * FRAME_SEC };
    return s;
  });
}
