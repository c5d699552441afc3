// Diarization error rate, as NIST md-eval and pyannote.metrics score it:
// (missed speech + false alarm + speaker confusion) / reference speech, after
// mapping hypothesis labels one-to-one onto reference labels so that the
// overlap they share is as large as possible (the Hungarian algorithm).
//
// Scored exactly, from segment boundaries, rather than on a frame grid: between
// two consecutive boundaries (of any reference or hypothesis turn, or of a
// collar) nothing changes, so each such piece is scored once by its length.
// That has no quantisation error (a 10 ms grid shifts every boundary by up to
// 5 ms, which adds up over thousands of turns), and costs O(B log B) for B
// boundaries instead of one step per 10 ms of audio.

import { munkres } from "munkres";

export interface SpeakerTurn {
  /** Seconds. */
  start: number;
  end: number;
  speaker: string;
}

export interface DerOptions {
  /**
   * Seconds not scored on each side of every reference turn's start and end:
   * md-eval's `-c 0.25`, the NIST RT and DIHARD-1 convention. (pyannote's
   * `collar` is the whole zone, so its `collar=0.5` is this 0.25.) 0 scores
   * every instant.
   */
  collar?: number;
}

export interface DiarizationErrorRate {
  /** (missed + falseAlarm + confusion) / total; 0 when both sides are empty, Infinity when only the hypothesis speaks. */
  der: number;
  /** Seconds of reference speech with no hypothesis speaker (counted once per missing speaker). */
  missed: number;
  /** Seconds of hypothesis speech beyond the reference's speaker count. */
  falseAlarm: number;
  /** Seconds where as many speakers were found as spoke, but under labels that do not map to them. */
  confusion: number;
  /** Scored reference speech: a second with two reference speakers counts as two. */
  total: number;
  /** Hypothesis label → the reference label it is scored as; labels sharing no scored time are left out. */
  mapping: Record<string, string>;
}

export const DEFAULT_COLLAR_SEC = 0.25;

export function diarizationErrorRate(reference: SpeakerTurn[], hypothesis: SpeakerTurn[], options: DerOptions = {}): DiarizationErrorRate {
  const collar = options.collar ?? DEFAULT_COLLAR_SEC;
  const ref = bySpeaker(reference);
  const hyp = bySpeaker(hypothesis);
  const refLabels = [...ref.keys()];
  const hypLabels = [...hyp.keys()];
  const refTurns = [...ref.values()];
  const hypTurns = [...hyp.values()];

  // Boundaries of one speaker's merged turns, so that a turn split in two
  // where the speaker never stopped does not open a collar in the middle.
  const noScore = collar > 0 ? union(refTurns.flat().flatMap(([s, e]) => [[s - collar, s + collar] as Interval, [e - collar, e + collar] as Interval])) : [];

  const cuts = [...refTurns.flat(), ...hypTurns.flat(), ...noScore].flat();
  cuts.sort((a, b) => a - b);

  const refCursor = new Cursor(refTurns);
  const hypCursor = new Cursor(hypTurns);
  const noScoreCursor = new Cursor([noScore]);
  const overlap = refLabels.map(() => new Float64Array(hypLabels.length));
  let missed = 0;
  let falseAlarm = 0;
  let total = 0;
  // Seconds × min(reference speakers, hypothesis speakers): the time that is
  // either correct or confused; the mapping decides which.
  let matchable = 0;
  for (let k = 1; k < cuts.length; k++) {
    const a = cuts[k - 1]!;
    const b = cuts[k]!;
    if (b <= a) continue;
    const mid = (a + b) / 2;
    if (noScoreCursor.active(mid).length > 0) continue;
    const length = b - a;
    const r = refCursor.active(mid);
    const h = hypCursor.active(mid);
    total += length * r.length;
    missed += length * Math.max(0, r.length - h.length);
    falseAlarm += length * Math.max(0, h.length - r.length);
    matchable += length * Math.min(r.length, h.length);
    for (const i of r) for (const j of h) overlap[i]![j]! += length;
  }

  const mapping: Record<string, string> = {};
  let correct = 0;
  if (refLabels.length > 0 && hypLabels.length > 0) {
    // munkres minimises cost; the largest overlap becomes the smallest cost.
    const most = Math.max(...overlap.map((row) => Math.max(...row)));
    for (const [i, j] of munkres(overlap.map((row) => Array.from(row, (v) => most - v)))) {
      const shared = overlap[i]![j]!;
      if (shared <= 0) continue;
      mapping[hypLabels[j]!] = refLabels[i]!;
      correct += shared;
    }
  }
  const confusion = Math.max(0, matchable - correct);
  const errors = missed + falseAlarm + confusion;
  const der = total > 0 ? errors / total : errors > 0 ? Infinity : 0;
  return { der, missed, falseAlarm, confusion, total, mapping };
}

type Interval = [number, number];

/** Each speaker's turns, sorted and merged so that no instant counts twice for one speaker. */
function bySpeaker(turns: SpeakerTurn[]): Map<string, Interval[]> {
  const grouped = new Map<string, Interval[]>();
  for (const { start, end, speaker } of turns) {
    if (!(end > start)) continue;
    const list = grouped.get(speaker);
    if (list) list.push([start, end]);
    else grouped.set(speaker, [[start, end]]);
  }
  for (const [speaker, list] of grouped) grouped.set(speaker, union(list));
  return grouped;
}

function union(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((x, y) => x[0] - y[0]);
  const out: Interval[] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** Which of several sorted interval lists cover a time, for times asked in increasing order. */
class Cursor {
  private readonly next: number[];

  constructor(private readonly lists: Interval[][]) {
    this.next = lists.map(() => 0);
  }

  active(t: number): number[] {
    const hits: number[] = [];
    this.lists.forEach((list, i) => {
      let k = this.next[i]!;
      while (k < list.length && list[k]![1] <= t) k++;
      this.next[i] = k;
      const at = list[k];
      if (at && at[0] <= t) hits.push(i);
    });
    return hits;
  }
}
