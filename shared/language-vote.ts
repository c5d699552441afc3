/**
 * How a recording's language is decided when the caller says "auto": every
 * rule of the vote, on both sides of the protocol, pure.
 *
 * - A machine settles one language per stream (its range) from its first
 *   batch: the chunks' language probabilities, weighted by chunk length.
 * - The job settles the recording's language from speech seconds per
 *   language over all ranges: once it is clear, new range tasks are forced
 *   into it; once every range is done, ranges that came out in another
 *   language go round again in it, if the recording is clearly one language.
 */

/** A clear vote needs this much speech … */
export const LANGUAGE_VOTE_MIN_SEC = 60;
/** … with this share for the leader before new ranges are forced into it. */
export const LANGUAGE_VOTE_SHARE = 0.6;
/** Disagreeing ranges are redone only when the leader has this share (below it, a bilingual recording keeps each range's own). */
export const LANGUAGE_REDO_SHARE = 0.8;

export interface Tally {
  language: string;
  weight: number;
}

export interface Leader extends Tally {
  /** The leader's weight over all weights (0 when nothing voted). */
  share: number;
}

/** The heaviest language of a tally (ties go to the alphabetically first), with its share. */
export function leaderOf(tallies: Iterable<Tally>): Leader | null {
  const sums = new Map<string, number>();
  for (const t of tallies) sums.set(t.language, (sums.get(t.language) ?? 0) + t.weight);
  let best: Tally | null = null;
  let total = 0;
  for (const [language, weight] of sums) {
    total += weight;
    if (!best || weight > best.weight || (weight === best.weight && language < best.language)) best = { language, weight };
  }
  return best ? { ...best, share: total > 0 ? best.weight / total : 0 } : null;
}

/** A machine's language for its stream: chunks vote with their language probabilities times their length. */
export function streamLanguage(chunks: ReadonlyArray<{ durationSec: number; languageProbs: Record<string, number> | null }>): string | null {
  return (
    leaderOf(chunks.flatMap((c) => Object.entries(c.languageProbs ?? {}).map(([language, p]) => ({ language, weight: p * c.durationSec }))))?.language ?? null
  );
}

/**
 * The language a new range task must use: the requested one, the settled
 * one, or with "auto" the vote's leader once it is clear; null lets the
 * machine detect it.
 */
export function rangeLanguage(requested: string, settled: string | null, vote: readonly Tally[]): string | null {
  if (requested !== "auto") return requested;
  if (settled) return settled;
  const leader = leaderOf(vote);
  const total = vote.reduce((sum, v) => sum + v.weight, 0);
  return leader && total >= LANGUAGE_VOTE_MIN_SEC && leader.share >= LANGUAGE_VOTE_SHARE ? leader.language : null;
}

export interface LanguageRedo {
  /** The recording's language from now on. */
  settle: string;
  /** Ranges whose own leading language disagrees: decoded again with `settle` forced. */
  redo: Array<{ range_index: number; language: string }>;
}

/**
 * What to do once every range is done, with "auto" and nothing settled yet:
 * null for a recording that is not clearly one language (each range keeps
 * its own), else the language to settle and the ranges to redo in it.
 */
export function languageRedo(vote: readonly Tally[], rangeLeaders: ReadonlyArray<{ range_index: number; language: string }>): LanguageRedo | null {
  const leader = leaderOf(vote);
  if (!leader || leader.share < LANGUAGE_REDO_SHARE) return null;
  return { settle: leader.language, redo: rangeLeaders.filter((r) => r.language !== leader.language) };
}
