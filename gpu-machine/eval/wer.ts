// Word error rate over normalised transcripts: a word-level Levenshtein
// alignment, reported as substitutions, deletions and insertions so a change
// in the score can be traced to what kind of mistake moved it.

import { normalizeEnglish } from "./english-normalizer.ts";

export interface WordErrors {
  substitutions: number;
  deletions: number;
  insertions: number;
  /** Words in the reference: the denominator of the rate. */
  words: number;
}

export interface WordErrorRate extends WordErrors {
  /** errors / words; 0 for an empty corpus, Infinity when only insertions exist. */
  wer: number;
  errors: number;
}

/**
 * Minimum-edit alignment of two already normalised strings, split on
 * whitespace. Among equally short alignments a substitution is preferred to a
 * deletion, and a deletion to an insertion, so counts are deterministic.
 */
export function wordErrors(reference: string, hypothesis: string): WordErrors {
  const ref = splitWords(reference);
  const hyp = splitWords(hypothesis);
  // Two rows of the DP table, each cell holding its edit counts by kind (a
  // cell's cost is their sum). Typed arrays keep hour-long transcripts cheap.
  let prev = new EditRow(hyp.length + 1);
  let cur = new EditRow(hyp.length + 1);
  for (let j = 0; j <= hyp.length; j++) prev.set(j, 0, 0, j);
  for (let i = 1; i <= ref.length; i++) {
    cur.set(0, 0, i, 0);
    for (let j = 1; j <= hyp.length; j++) {
      const same = ref[i - 1] === hyp[j - 1];
      const viaDiagonal = prev.cost(j - 1) + (same ? 0 : 1);
      const viaUp = prev.cost(j) + 1;
      const viaLeft = cur.cost(j - 1) + 1;
      if (viaDiagonal <= viaUp && viaDiagonal <= viaLeft) {
        cur.copy(j, prev, j - 1, same ? 0 : 1, 0, 0);
      } else if (viaUp <= viaLeft) {
        cur.copy(j, prev, j, 0, 1, 0);
      } else {
        cur.copy(j, cur, j - 1, 0, 0, 1);
      }
    }
    [prev, cur] = [cur, prev];
  }
  const end = hyp.length;
  return { substitutions: prev.sub[end] ?? 0, deletions: prev.del[end] ?? 0, insertions: prev.ins[end] ?? 0, words: ref.length };
}

class EditRow {
  readonly sub: Int32Array;
  readonly del: Int32Array;
  readonly ins: Int32Array;

  constructor(length: number) {
    this.sub = new Int32Array(length);
    this.del = new Int32Array(length);
    this.ins = new Int32Array(length);
  }

  cost(j: number): number {
    return (this.sub[j] ?? 0) + (this.del[j] ?? 0) + (this.ins[j] ?? 0);
  }

  set(j: number, sub: number, del: number, ins: number): void {
    this.sub[j] = sub;
    this.del[j] = del;
    this.ins[j] = ins;
  }

  copy(j: number, from: EditRow, k: number, sub: number, del: number, ins: number): void {
    this.set(j, (from.sub[k] ?? 0) + sub, (from.del[k] ?? 0) + del, (from.ins[k] ?? 0) + ins);
  }
}

/**
 * Corpus-level rate: errors and reference words are summed over all pairs
 * before dividing, so long utterances weigh more than short ones.
 */
export function wordErrorRate(pairs: Array<{ reference: string; hypothesis: string }>, normalize: (text: string) => string = normalizeEnglish): WordErrorRate {
  const total: WordErrors = { substitutions: 0, deletions: 0, insertions: 0, words: 0 };
  for (const { reference, hypothesis } of pairs) {
    const e = wordErrors(normalize(reference), normalize(hypothesis));
    total.substitutions += e.substitutions;
    total.deletions += e.deletions;
    total.insertions += e.insertions;
    total.words += e.words;
  }
  const errors = total.substitutions + total.deletions + total.insertions;
  const wer = total.words > 0 ? errors / total.words : errors > 0 ? Infinity : 0;
  return { wer, errors, ...total };
}

function splitWords(text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== "");
}
