import { FRAME_SPAN_SAMPLES, FRAME_STEP_SAMPLES, LOCAL_SPEAKERS } from "../engine/speaker-segmentation.ts";

/**
 * One segmentation window of a range: which of its three local speakers talk
 * in each frame. Positions are in samples from the start of the range.
 */
export interface WindowActivity {
  start: number;
  /** Frames whose centre lies inside the audio. */
  frames: number;
  /** frames × LOCAL_SPEAKERS: 1 where that local speaker talks. */
  activity: Uint8Array;
  /** frames × LOCAL_SPEAKERS: the probability that it talks (the dominant one of two at once is the likelier). */
  probability: Float32Array;
}

/**
 * Two windows that share frames heard the same speaker there when their local
 * speakers are active in the same frames: at least this share of the shorter
 * one's active frames in the shared stretch...
 */
const LINK_SHARE = 0.5;
/** ...and at least this many frames together (0.34 s), so one stray frame links nobody. */
const LINK_MIN_FRAMES = 20;

/** Centre of frame `i` of a window, in samples from the start of the range. */
export function frameCentre(window: Pick<WindowActivity, "start">, i: number): number {
  return window.start + i * FRAME_STEP_SAMPLES + FRAME_SPAN_SAMPLES / 2;
}

/** The frame of `window` whose centre is nearest to `sample`, or -1 outside its frames. */
export function nearestFrame(window: Pick<WindowActivity, "start" | "frames">, sample: number): number {
  const i = Math.round((sample - window.start - FRAME_SPAN_SAMPLES / 2) / FRAME_STEP_SAMPLES);
  return i >= 0 && i < window.frames ? i : -1;
}

export function isActive(window: Pick<WindowActivity, "activity">, frame: number, speaker: number): boolean {
  return window.activity[frame * LOCAL_SPEAKERS + speaker] === 1;
}

/**
 * For each local speaker of `next`, the local speaker of `previous` that it
 * continues (-1 for none), from the frames both windows hear. Overlapping
 * windows of one model see the same voices in the shared seconds, so agreement
 * there is the strongest evidence of identity that diarization has (pyannote
 * links its windows the same way before any embedding). One to one: the pairs
 * that agree most are linked first.
 */
export function overlapLinks(previous: WindowActivity, next: WindowActivity): number[] {
  const together = Array.from({ length: LOCAL_SPEAKERS }, () => new Array<number>(LOCAL_SPEAKERS).fill(0));
  const activePrevious = new Array<number>(LOCAL_SPEAKERS).fill(0);
  const activeNext = new Array<number>(LOCAL_SPEAKERS).fill(0);
  for (let i = 0; i < next.frames; i++) {
    const j = nearestFrame(previous, frameCentre(next, i));
    if (j < 0) continue;
    for (let r = 0; r < LOCAL_SPEAKERS; r++) {
      const heardBefore = isActive(previous, j, r);
      if (heardBefore) activePrevious[r]!++;
      for (let s = 0; s < LOCAL_SPEAKERS; s++) {
        const heardNow = isActive(next, i, s);
        if (r === 0 && heardNow) activeNext[s]!++;
        if (heardBefore && heardNow) together[r]![s]!++;
      }
    }
  }
  const pairs: [number, number, number][] = [];
  for (let r = 0; r < LOCAL_SPEAKERS; r++) {
    for (let s = 0; s < LOCAL_SPEAKERS; s++) {
      const n = together[r]![s]!;
      if (n >= LINK_MIN_FRAMES && n >= LINK_SHARE * Math.min(activePrevious[r]!, activeNext[s]!)) pairs.push([n, r, s]);
    }
  }
  pairs.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
  const links = new Array<number>(LOCAL_SPEAKERS).fill(-1);
  const taken = new Set<number>();
  for (const [, r, s] of pairs) {
    if (links[s] !== -1 || taken.has(r)) continue;
    links[s] = r;
    taken.add(r);
  }
  return links;
}
