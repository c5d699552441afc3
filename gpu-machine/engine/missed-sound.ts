import { SAMPLE_RATE } from "../media/pcm.ts";
import { DEFAULT_LEVELING, FRAME_SEC, stretches } from "./level-utterances.ts";

/**
 * Whisper may pass over an utterance inside a window, or end the window early and
 * leave the last one out (openai/whisper moves its next window to that point; our
 * chunks are fixed). Such stretches show as sound where no segment is: they are
 * found here and decoded again on their own.
 */

export interface Span {
  fromSec: number;
  toSec: number;
}

/** A space shorter than this cannot hold a missed utterance. */
const MIN_SPACE_SEC = 1;
/** Segment times are coarse: sound this close to a segment counts as its own. */
const EDGE_SLACK_SEC = 0.3;
/** At least this much sound in a space before it is decoded again. */
const MIN_SOUND_SEC = 0.5;

/**
 * The spaces before, between and after `segments` (times within the chunk) that
 * hold sound, as the spans to decode again.
 */
export function missedSpans(segments: ReadonlyArray<Span>, samples: Float32Array): Span[] {
  if (segments.length === 0) return [];
  const audioSec = samples.length / SAMPLE_RATE;
  const spaces: Span[] = [];
  for (let k = 0; k <= segments.length; k++) {
    const fromSec = k === 0 ? 0 : segments[k - 1]!.toSec;
    const toSec = k === segments.length ? audioSec : segments[k]!.fromSec;
    if (toSec - fromSec >= MIN_SPACE_SEC) spaces.push({ fromSec, toSec });
  }
  if (spaces.length === 0) return [];
  const sound = soundOf(samples);
  return spaces.filter((space) => {
    // A chunk's own edges need no slack: nothing decoded lies beyond them.
    const from = space.fromSec > 0 ? space.fromSec + EDGE_SLACK_SEC : 0;
    const to = space.toSec < audioSec ? space.toSec - EDGE_SLACK_SEC : audioSec;
    return soundWithin(sound, from, to) >= MIN_SOUND_SEC;
  });
}

/** A word must start this long after its segment's timestamp, or end this long before its end, before the stretch between counts as unheard. */
const UNHEARD_LEAD_SEC = 1;

/**
 * The span of a chunk that `segment` (chunk times) has heard: from its first word where
 * that word starts a second or more after the segment's timestamp, and to its last word's
 * end where that ends a second or more before the segment does. Whisper sometimes opens
 * a segment over an utterance it then skips (on a held-out long-form file, a 4.7 s
 * segment whose only word, at its end, began the next utterance hid nine words), or
 * carries a segment's end over the next utterance after its words are done (a sentence
 * said twice in a row, timed as one segment with its words once). With the span cut to
 * its words (trimmed to their sound: word-timing.ts), the missed-sound pass sees that
 * stretch as a space with sound in it and decodes it alone.
 */
export function heardSpan(segment: { startSec: number; endSec: number; words?: ReadonlyArray<{ startSec: number; endSec: number }> }): Span {
  const first = segment.words?.[0];
  const last = segment.words?.at(-1);
  const fromSec = first && first.startSec - segment.startSec >= UNHEARD_LEAD_SEC ? Math.min(first.startSec, segment.endSec) : segment.startSec;
  const toSec = last && segment.endSec - last.endSec >= UNHEARD_LEAD_SEC ? Math.max(last.endSec, fromSec) : segment.endSec;
  return { fromSec, toSec };
}

/** Stretches of sound in a chunk, in seconds. */
export function soundOf(samples: Float32Array): Span[] {
  return stretches(samples, DEFAULT_LEVELING.aboveFloorDb).map((s) => ({ fromSec: s.from * FRAME_SEC, toSec: s.to * FRAME_SEC }));
}

function soundWithin(sound: readonly Span[], from: number, to: number): number {
  return sound.reduce((sum, s) => sum + Math.max(0, Math.min(to, s.toSec) - Math.max(from, s.fromSec)), 0);
}

/** Seconds of sound a word takes at least: 5 words a second is fast speech. */
const MIN_SEC_PER_WORD = 0.2;
/** Shorter repeats are left to repeatsNeighbours: a word or two doubled at a cut. */
const MIN_REPEAT_WORDS = 4;

/**
 * True when a missed span's decode that repeats its neighbours was nonetheless said
 * again: it is a sentence, not a word or two, and the sound inside its own span
 * (`segment`, chunk times) lasts long enough to say it. A segment whose times
 * were off leaves only a short tail of its speech in the space, far too short
 * for its words; an utterance that is really repeated (a quote read twice, a
 * speaker saying the same sentence again) fills the space with all of them.
 */
export function saidAgain(text: string, segment: Span, sound: readonly Span[]): boolean {
  const n = words(text).length;
  return n >= MIN_REPEAT_WORDS && soundWithin(sound, segment.fromSec, segment.toSec) >= n * MIN_SEC_PER_WORD;
}

function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

/**
 * True when most words of `text` already stand in `neighbours`: a missed span's
 * decode that only repeats what the segments beside it say (their times were off,
 * not their words) is dropped.
 */
export function repeatsNeighbours(text: string, neighbours: readonly string[]): boolean {
  const own = words(text);
  if (own.length === 0) return true;
  const around = new Map<string, number>();
  for (const w of neighbours.flatMap(words)) around.set(w, (around.get(w) ?? 0) + 1);
  let shared = 0;
  for (const w of own) {
    const left = around.get(w) ?? 0;
    if (left > 0) {
      shared++;
      around.set(w, left - 1);
    }
  }
  return shared / own.length >= 0.5;
}

/**
 * A short span of leftover sound (a breath, the end of a word whose segment ended
 * early) is where Whisper writes "you" or "Thank you.". Those decodes are unsure
 * that there is speech at all and unsure of their words; whole windows are held
 * to Whisper's own silence rule (0.6 and -1), these spans to this stricter one.
 */
export function likelyInvented(quality: { noSpeechProb: number; avgLogprob: number }): boolean {
  return quality.noSpeechProb > 0.5 && quality.avgLogprob < -0.8;
}
