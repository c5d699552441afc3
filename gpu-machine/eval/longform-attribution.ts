// Long-form errors traced to their cause. The whole long-form hypothesis is aligned
// word by word to the whole reference (each reference word knowing its utterance),
// so a word the long-form run put a second too late still counts where it belongs;
// each error of that alignment is then labelled from what the pipeline did around
// it (micro-chunk cuts, chunks VAD kept from the model, segment languages) and
// compared with the same utterance transcribed alone.

import { normalizeEnglish } from "./english-normalizer.ts";
import { wordErrors } from "./wer.ts";

export interface RefUtterance {
  start: number;
  end: number;
  text: string;
}

/** A long-form word on the recording's timeline. */
export interface HypWord {
  word: string;
  start: number;
  end: number;
  language: string;
}

export interface PipelineChunk {
  startSec: number;
  endSec: number;
  /** False when VAD (or the level check) kept it from the model. */
  speech: boolean;
}

export const CAUSES = ["wrong language", "dropped by VAD", "cut at chunk boundary", "repetition", "invented", "dropped", "other"] as const;
export type Cause = (typeof CAUSES)[number];

export interface AttributionOptions {
  /** The language the recording is in. */
  language: string;
  /** An error this close to a micro-chunk cut inside its utterance is put down to the cut. */
  boundarySec: number;
  /** A word this far outside its utterance's span counts as drifted. */
  driftSec: number;
  /** Deletions in a row, at least this many, are a dropped stretch rather than a misheard word. */
  dropRun: number;
  /**
   * A long-form word is aligned only with reference words of utterances within this
   * many seconds of it: text alone would pair invented words in a gap with the words
   * of an utterance that was dropped next to it.
   */
  alignWithinSec: number;
}

export const DEFAULT_ATTRIBUTION: AttributionOptions = { language: "en", boundarySec: 1, driftSec: 1, dropRun: 3, alignWithinSec: 2 };

export interface UtteranceRow {
  index: number;
  start: number;
  end: number;
  words: number;
  shortErrors: number;
  longErrors: number;
  /** Long-form error words by cause. */
  causes: Partial<Record<Cause, number>>;
  /** Matched long-form words more than driftSec outside the utterance (timestamp drift). */
  drifted: number;
}

export interface Attribution {
  rows: UtteranceRow[];
  /** Corpus WER of the utterances transcribed alone. */
  shortWer: number;
  /** The long-form text against the whole reference, normalised as a whole (the project's figure). */
  longWer: number;
  /** The errors of the rows over their words: the time-constrained alignment, never lower than longWer. */
  alignedWer: number;
  words: number;
  /** Long-form error words by cause, all utterances. */
  causes: Record<Cause, number>;
  /** Long-minus-short errors summed over utterances that got worse, by their main cause. */
  excessByCause: Record<Cause, number>;
  drifted: number;
}

type Op = { kind: "ok" | "sub" | "del" | "ins"; ref: number; hyp: number };

/**
 * Minimum-edit alignment of two word lists with its path (ref/hyp index -1 where
 * absent); ties as in wer.ts: substitution, then deletion, then insertion.
 * `pairs(i, j)` false forbids matching or substituting ref word i with hyp word j.
 */
export function alignWords(ref: readonly string[], hyp: readonly string[], pairs: (i: number, j: number) => boolean = () => true): Op[] {
  const n = ref.length;
  const m = hyp.length;
  const cost = new Int32Array((n + 1) * (m + 1));
  const step = new Uint8Array((n + 1) * (m + 1)); // 0 diagonal, 1 up (deletion), 2 left (insertion)
  const at = (i: number, j: number) => i * (m + 1) + j;
  for (let j = 1; j <= m; j++) {
    cost[at(0, j)] = j;
    step[at(0, j)] = 2;
  }
  for (let i = 1; i <= n; i++) {
    cost[at(i, 0)] = i;
    step[at(i, 0)] = 1;
    for (let j = 1; j <= m; j++) {
      const diagonal = pairs(i - 1, j - 1) ? cost[at(i - 1, j - 1)]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1) : Number.MAX_SAFE_INTEGER;
      const up = cost[at(i - 1, j)]! + 1;
      const left = cost[at(i, j - 1)]! + 1;
      if (diagonal <= up && diagonal <= left) cost[at(i, j)] = diagonal;
      else if (up <= left) {
        cost[at(i, j)] = up;
        step[at(i, j)] = 1;
      } else {
        cost[at(i, j)] = left;
        step[at(i, j)] = 2;
      }
    }
  }
  const ops: Op[] = [];
  let i = n;
  let j = m;
  while (i > 0 || j > 0) {
    const s = step[at(i, j)];
    if (i > 0 && j > 0 && s === 0) {
      ops.push({ kind: ref[i - 1] === hyp[j - 1] ? "ok" : "sub", ref: i - 1, hyp: j - 1 });
      i--;
      j--;
    } else if (i > 0 && (s === 1 || j === 0)) {
      ops.push({ kind: "del", ref: i - 1, hyp: -1 });
      i--;
    } else {
      ops.push({ kind: "ins", ref: -1, hyp: j - 1 });
      j--;
    }
  }
  return ops.reverse();
}

/**
 * Normalised words of timed words, each keeping its source word's time: the
 * normaliser runs over growing prefixes of the segment, so numbers and
 * contractions spanning words come out as they would for the whole text.
 */
export function normalizedTimedWords(words: readonly HypWord[]): HypWord[] {
  const out: HypWord[] = [];
  let prefix = "";
  for (const w of words) {
    prefix += ` ${w.word}`;
    const tokens = splitWords(normalizeEnglish(prefix));
    // Words the normaliser folds into earlier ones ("twenty" "five" -> "25") add nothing.
    for (let k = out.length; k < tokens.length; k++) out.push({ ...w, word: tokens[k]! });
  }
  // A later word may respell earlier ones; the whole text's spelling wins where the counts agree.
  const whole = splitWords(normalizeEnglish(prefix));
  return whole.length === out.length ? out.map((w, k) => ({ ...w, word: whole[k]! })) : out;
}

function splitWords(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== "");
}

const LATIN = /^[\p{Script=Latin}\p{N}'-]*$/u;

/**
 * Attributes the long-form errors of `hyp` (the long-form words; see
 * normalizedTimedWords) against `utterances`, beside `short` (each utterance's
 * text transcribed alone).
 */
export function attribute(
  utterances: readonly RefUtterance[],
  short: readonly string[],
  hyp: readonly HypWord[],
  chunks: readonly PipelineChunk[],
  longText: string,
  options: AttributionOptions = DEFAULT_ATTRIBUTION,
): Attribution {
  const refWords: Array<{ word: string; utt: number; pos: number; of: number }> = [];
  utterances.forEach((u, k) => {
    const words = splitWords(normalizeEnglish(u.text));
    words.forEach((word, pos) => refWords.push({ word, utt: k, pos, of: words.length }));
  });
  const mid = (h: HypWord) => (h.start + h.end) / 2;
  const ops = alignWords(
    refWords.map((r) => r.word),
    hyp.map((h) => h.word),
    (i, j) => {
      const u = utterances[refWords[i]!.utt]!;
      const t = mid(hyp[j]!);
      return t >= u.start - options.alignWithinSec && t <= u.end + options.alignWithinSec;
    },
  );
  const nearest = (t: number) => {
    let best = 0;
    let gap = Infinity;
    utterances.forEach((u, k) => {
      const d = t < u.start ? u.start - t : t > u.end ? t - u.end : 0;
      if (d < gap) {
        gap = d;
        best = k;
      }
    });
    return best;
  };
  // Each op's utterance and time: a reference word's own utterance; an insertion the
  // one nearest its time; a deletion's time between the hypothesis words around it.
  const placed = ops.map((op, k) => {
    if (op.kind === "ins") return { op, utt: nearest(mid(hyp[op.hyp]!)), time: mid(hyp[op.hyp]!) };
    const r = refWords[op.ref]!;
    const u = utterances[r.utt]!;
    if (op.kind !== "del") return { op, utt: r.utt, time: mid(hyp[op.hyp]!) };
    const before = ops.slice(0, k).findLast((o) => o.hyp >= 0);
    const after = ops.slice(k + 1).find((o) => o.hyp >= 0);
    const inside = (t: number | undefined) => (t !== undefined && t >= u.start - 0.5 && t <= u.end + 0.5 ? t : undefined);
    const a = inside(before ? hyp[before.hyp]!.end : undefined);
    const b = inside(after ? hyp[after.hyp]!.start : undefined);
    const byPosition = u.start + ((r.pos + 0.5) / r.of) * (u.end - u.start);
    const time = a !== undefined && b !== undefined ? (a + b) / 2 : (a ?? b ?? byPosition);
    return { op, utt: r.utt, time };
  });

  const cuts = chunks.slice(1).map((c) => c.startSec);
  const silentAt = (t: number) => chunks.some((c) => !c.speech && t >= c.startSec && t < c.endSec);
  const deletionRun = runLengths(ops, "del");
  const insertionRun = runLengths(ops, "ins");
  const causeOf = (p: (typeof placed)[number], k: number): Cause => {
    const { op, utt, time } = p;
    const u = utterances[utt]!;
    if (op.hyp >= 0 && (hyp[op.hyp]!.language !== options.language || !LATIN.test(hyp[op.hyp]!.word))) return "wrong language";
    if (op.kind === "del" && silentAt(time)) return "dropped by VAD";
    if (cuts.some((c) => c > u.start && c < u.end && Math.abs(c - time) <= options.boundarySec)) return "cut at chunk boundary";
    if (op.kind === "ins" && repeatsAround(ops, hyp, k)) return "repetition";
    if (op.kind === "ins" && (time < u.start - 0.3 || time > u.end + 0.3 || insertionRun[k]! >= 4)) return "invented";
    if (op.kind === "del" && deletionRun[k]! >= options.dropRun) return "dropped";
    return "other";
  };

  const rows: UtteranceRow[] = utterances.map((u, index) => {
    const e = wordErrors(normalizeEnglish(u.text), normalizeEnglish(short[index] ?? ""));
    return {
      index,
      start: u.start,
      end: u.end,
      words: e.words,
      shortErrors: e.substitutions + e.deletions + e.insertions,
      longErrors: 0,
      causes: {},
      drifted: 0,
    };
  });
  placed.forEach((p, k) => {
    const row = rows[p.utt]!;
    if (p.op.kind === "ok" || p.op.kind === "sub") {
      const t = p.time;
      if (t < row.start - options.driftSec || t > row.end + options.driftSec) row.drifted++;
    }
    if (p.op.kind === "ok") return;
    row.longErrors++;
    const cause = causeOf(p, k);
    row.causes[cause] = (row.causes[cause] ?? 0) + 1;
  });

  const zero = () => Object.fromEntries(CAUSES.map((c) => [c, 0])) as Record<Cause, number>;
  const causes = zero();
  const excessByCause = zero();
  for (const row of rows) {
    for (const [c, n] of Object.entries(row.causes) as Array<[Cause, number]>) causes[c] += n;
    const excess = row.longErrors - row.shortErrors;
    if (excess > 0) excessByCause[mainCause(row.causes)] += excess;
  }
  const words = rows.reduce((s, r) => s + r.words, 0);
  const shortTotal = rows.reduce((s, r) => s + r.shortErrors, 0);
  const whole = wordErrors(normalizeEnglish(utterances.map((u) => u.text).join(" ")), normalizeEnglish(longText));
  return {
    rows,
    shortWer: words > 0 ? shortTotal / words : 0,
    longWer: whole.words > 0 ? (whole.substitutions + whole.deletions + whole.insertions) / whole.words : 0,
    alignedWer: words > 0 ? rows.reduce((s, r) => s + r.longErrors, 0) / words : 0,
    words,
    causes,
    excessByCause,
    drifted: rows.reduce((s, r) => s + r.drifted, 0),
  };
}

/** The specific cause with most error words; "other" only when there is none. */
function mainCause(causes: Partial<Record<Cause, number>>): Cause {
  let best: Cause = "other";
  let most = 0;
  for (const c of CAUSES) {
    if (c !== "other" && (causes[c] ?? 0) > most) {
      best = c;
      most = causes[c]!;
    }
  }
  return best;
}

/** For each op of `kind`, the length of the run of that kind it stands in. */
function runLengths(ops: readonly Op[], kind: Op["kind"]): number[] {
  const out = new Array<number>(ops.length).fill(0);
  let k = 0;
  while (k < ops.length) {
    if (ops[k]!.kind !== kind) {
      k++;
      continue;
    }
    let end = k;
    while (end < ops.length && ops[end]!.kind === kind) end++;
    for (let i = k; i < end; i++) out[i] = end - k;
    k = end;
  }
  return out;
}

/**
 * An inserted word inside a run of insertions that says again the words just
 * before or just after the run (the alignment may keep either copy).
 */
function repeatsAround(ops: readonly Op[], hyp: readonly HypWord[], k: number): boolean {
  let from = k;
  while (from > 0 && ops[from - 1]!.kind === "ins") from--;
  let to = k;
  while (to + 1 < ops.length && ops[to + 1]!.kind === "ins") to++;
  const first = ops[from]!.hyp;
  const last = ops[to]!.hyp;
  const run = hyp.slice(first, last + 1).map((h) => h.word);
  const same = (at: number) => at >= 0 && at + run.length <= hyp.length && run.every((w, i) => hyp[at + i]!.word === w);
  // A one-word run is a stutter only when it is the word right beside it.
  const longest = run.length === 1 ? 1 : Math.max(run.length, 8);
  for (let period = run.length; period <= longest; period++) if (same(first - period) || same(first + period)) return true;
  return false;
}

/** The per-utterance table and the totals, as text. */
export function formatAttribution(a: Attribution, label: (row: UtteranceRow) => string = () => ""): string {
  const lines = ["  #   start     end  words short  long  Δ  causes (long-form error words)"];
  for (const r of a.rows) {
    const d = r.longErrors - r.shortErrors;
    const causes = Object.entries(r.causes)
      .map(([c, n]) => `${c}:${n}`)
      .join(" ");
    const drift = r.drifted > 0 ? ` drift:${r.drifted}` : "";
    lines.push(
      `${String(r.index).padStart(3)} ${r.start.toFixed(1).padStart(7)} ${r.end.toFixed(1).padStart(7)} ${String(r.words).padStart(6)} ${String(r.shortErrors).padStart(5)} ${String(r.longErrors).padStart(5)} ${(d > 0 ? `+${d}` : String(d)).padStart(3)}  ${causes}${drift} ${label(r)}`.trimEnd(),
    );
  }
  lines.push("", "cause                  error words  excess over short-form");
  for (const c of CAUSES) lines.push(`${c.padEnd(22)} ${String(a.causes[c]).padStart(11)}  ${String(a.excessByCause[c]).padStart(22)}`);
  lines.push(
    "",
    `words ${a.words}; WER short-form ${(a.shortWer * 100).toFixed(2)} %, long-form ${(a.longWer * 100).toFixed(2)} % (Δ ${((a.longWer - a.shortWer) * 100).toFixed(2)} points; ${(a.alignedWer * 100).toFixed(2)} % aligned by time, as the rows count); drifted words ${a.drifted}`,
  );
  return lines.join("\n");
}
