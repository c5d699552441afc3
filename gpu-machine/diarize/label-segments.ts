import type { Segment, Word } from "../../shared/segment.ts";
import type { SpeakerTurn } from "./range-diarizer.ts";

export type LabelledSegment = Segment & { speaker?: string };

/**
 * A segment or word outside every turn takes the speaker of the nearest turn
 * when it is this close: Whisper's times and the segmentation's edges each
 * miss by a few hundred milliseconds, and quiet words can fall outside the
 * turns altogether.
 */
const NEAREST_TURN_SEC = 1.5;
/**
 * A run of words shorter than this is not a speaker change of its own but the
 * two timelines disagreeing at a turn's edge (word times are ±0.2 s): it goes
 * with the longer run beside it.
 */
const MIN_RUN_SEC = 0.5;
/** Languages whose words are written without spaces (engine/word-timing.ts splits them into characters). */
const NO_SPACE_LANGUAGES = new Set(["zh", "ja", "th", "lo", "my", "yue"]);

/** Gives each segment the local speaker with most talk inside it, and splits a segment at speaker changes on word boundaries (needs words; without words the segment is not split). */
export function labelSegments(segments: Segment[], turns: readonly SpeakerTurn[]): LabelledSegment[] {
  const timeline = new TurnIndex(turns);
  return segments.flatMap((segment) => {
    const words = segment.words;
    if (!words?.length) return [withSpeaker(segment, timeline.speakerIn(segment.start_sec, segment.end_sec))];
    const runs = speakerRuns(words, timeline);
    if (runs.length === 1) {
      const speaker = runs[0]!.speaker;
      return [{ ...withSpeaker(segment, speaker), words: words.map((w) => withSpeaker(w, speaker)) }];
    }
    const joiner = NO_SPACE_LANGUAGES.has(segment.language) ? "" : " ";
    return runs.map(({ speaker, words: own }) => {
      const labelled = own.map((w) => withSpeaker(w, speaker));
      return withSpeaker(
        {
          ...segment,
          start_sec: own[0]!.start_sec,
          end_sec: Math.max(own[0]!.start_sec, own[own.length - 1]!.end_sec),
          text: own.map((w) => w.word).join(joiner),
          words: labelled,
        },
        speaker,
      );
    });
  });
}

/**
 * The speaker of each stretch (segments already posted) by the final turns: the
 * one with most talk inside it, or the nearest turn within reach. Not split:
 * a posted segment keeps its text and times; only who said it can change.
 */
export function speakersOf(spans: ReadonlyArray<{ start_sec: number; end_sec: number }>, turns: readonly SpeakerTurn[]): (string | null)[] {
  const timeline = new TurnIndex(turns);
  return spans.map((s) => timeline.speakerIn(s.start_sec, s.end_sec) ?? null);
}

function withSpeaker<T extends { speaker?: string }>(item: T, speaker: string | undefined): T {
  if (speaker === undefined) {
    const { speaker: _dropped, ...rest } = item;
    return rest as T;
  }
  return { ...item, speaker };
}

interface Run {
  speaker: string | undefined;
  words: Word[];
}

/** Consecutive words of one speaker; runs too short to be a change joined to the longer neighbour. */
function speakerRuns(words: Word[], timeline: TurnIndex): Run[] {
  const own = words.map((w) => timeline.speakerIn(w.start_sec, w.end_sec));
  // A word no turn reaches goes with the word before it, or after it.
  for (let i = 1; i < own.length; i++) own[i] ??= own[i - 1];
  for (let i = own.length - 2; i >= 0; i--) own[i] ??= own[i + 1];
  const runs: Run[] = [];
  words.forEach((w, i) => {
    const last = runs[runs.length - 1];
    if (last && last.speaker === own[i]) last.words.push(w);
    else runs.push({ speaker: own[i], words: [w] });
  });
  for (;;) {
    let shortest = -1;
    runs.forEach((r, i) => {
      if (runs.length > 1 && length(r) < MIN_RUN_SEC && (shortest < 0 || length(r) < length(runs[shortest]!))) shortest = i;
    });
    if (shortest < 0) break;
    const [before, after] = [runs[shortest - 1], runs[shortest + 1]];
    const into = !after || (before && length(before) >= length(after)) ? shortest - 1 : shortest + 1;
    const [lo, hi] = into < shortest ? [into, shortest] : [shortest, into];
    const merged: Run = { speaker: runs[into]!.speaker, words: [...runs[lo]!.words, ...runs[hi]!.words] };
    runs.splice(lo, 2, merged);
    // The runs on either side of the one absorbed may now be one speaker's.
    for (let i = runs.length - 1; i > 0; i--) {
      if (runs[i]!.speaker === runs[i - 1]!.speaker) runs.splice(i - 1, 2, { speaker: runs[i]!.speaker, words: [...runs[i - 1]!.words, ...runs[i]!.words] });
    }
  }
  return runs;
}

function length(run: Run): number {
  return run.words[run.words.length - 1]!.end_sec - run.words[0]!.start_sec;
}

/** Turns by time, for the speaker with most talk in a stretch. */
class TurnIndex {
  private readonly turns: readonly SpeakerTurn[];

  constructor(turns: readonly SpeakerTurn[]) {
    this.turns = [...turns].sort((a, b) => a.start_sec - b.start_sec);
  }

  /** The first turn that ends after `sec`. */
  private firstEndingAfter(sec: number): number {
    let lo = 0;
    let hi = this.turns.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.turns[mid]!.end_sec <= sec) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Most talk within [start, end]; a point (start = end) is inside a turn or not; else the nearest turn within reach. */
  speakerIn(start: number, end: number): string | undefined {
    const talk = new Map<string, number>();
    for (let k = this.firstEndingAfter(start); k < this.turns.length; k++) {
      const t = this.turns[k]!;
      if (t.start_sec > end || (t.start_sec === end && end > start)) break;
      const shared = Math.min(end, t.end_sec) - Math.max(start, t.start_sec);
      talk.set(t.speaker, (talk.get(t.speaker) ?? 0) + Math.max(shared, 0));
    }
    let best: string | undefined;
    let most = -1;
    for (const [speaker, sec] of talk) {
      if (sec > most) [best, most] = [speaker, sec];
    }
    return best ?? this.nearest(start, end);
  }

  private nearest(start: number, end: number): string | undefined {
    const k = this.firstEndingAfter(start);
    const candidates = [this.turns[k - 1], this.turns[k]].filter((t): t is SpeakerTurn => t !== undefined);
    let best: string | undefined;
    let gap = NEAREST_TURN_SEC;
    for (const t of candidates) {
      const d = Math.max(t.start_sec - end, start - t.end_sec, 0);
      if (d <= gap) [best, gap] = [t.speaker, d];
    }
    return best;
  }
}
