import { logSumExp } from "./logit-rules.ts";
import { loopCut } from "./quality.ts";

/**
 * Beam search as openai/whisper's BeamSearchDecoder and MaximumLikelihoodRanker
 * (decoding.py) do it: each beam offers its beamSize + 1 likeliest next tokens,
 * the beamSize likeliest candidates that do not end go on, those that end are
 * kept until beamSize (× patience 1) have ended, and the ended hypothesis with
 * the best sum log-probability / length wins (length penalty None). Two
 * additions of this engine: a beam that falls into a token loop ends there, cut
 * (as the greedy decoder cuts it), and ranks below any that ended cleanly.
 */

export interface Hypothesis {
  /** Tokens after the prompt, end-of-text excluded. */
  tokens: number[];
  logprobs: number[];
  /** Sum of the tokens' log-probabilities, end-of-text excluded, as the greedy decoder reports it. */
  sumLogprob: number;
  /** What beams are ranked by: sumLogprob, plus end-of-text's log-probability once ended (the reference's sum_logprobs). */
  score: number;
  looped: boolean;
  /** Per alignment head, one cross-attention row per step of this hypothesis' own history. */
  attention: Float32Array[][] | null;
}

/** One live beam's output at this step: its logits with the logit rules applied, and its attention rows. */
export interface BeamRow {
  logits: Float32Array;
  attention: Float32Array[] | null;
}

export const EMPTY_HYPOTHESIS: Hypothesis = { tokens: [], logprobs: [], sumLogprob: 0, score: 0, looped: false, attention: null };

/** The reference's final ranking: sum log-probability over length; a loop ranks below any clean end. */
export function rankScore(h: Hypothesis): number {
  return (h.looped ? -1e9 : 0) + h.score / Math.max(1, h.tokens.length);
}

/** The `count` likeliest finite entries, likeliest first; a tie goes to the lower index, as argmax does. */
export function topTokens(row: Float32Array, count: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (v === -Infinity || (best.length === count && v <= row[best[count - 1]!]!)) continue;
    let at = best.length;
    while (at > 0 && row[best[at - 1]!]! < v) at--;
    best.splice(at, 0, i);
    if (best.length > count) best.pop();
  }
  return best;
}

/** The beams of one window: the hypotheses alive, those ended, and whether the search is over. */
export class BeamChunk {
  beams: Hypothesis[];
  readonly ended: Hypothesis[] = [];
  done = false;

  constructor(
    readonly beamSize: number,
    /** The most tokens a hypothesis may hold (the decoder's positions left after the prompt). */
    readonly limit: number,
    readonly eot: number,
    attention: number | null,
  ) {
    this.beams = [{ ...EMPTY_HYPOTHESIS, attention: attention === null ? null : Array.from({ length: attention }, () => []) }];
  }

  /**
   * One step: `rows` holds one row per live beam, in the order of `beams`.
   * Returns, for each beam that goes on, the index of its parent among `rows`
   * (the decoder's cache rows to continue from) and the token it takes.
   */
  step(rows: readonly BeamRow[]): Array<{ parent: number; token: number }> {
    const candidates: Array<{ parent: number; token: number; logprob: number; score: number }> = [];
    rows.forEach((row, parent) => {
      const norm = logSumExp(row.logits);
      for (const token of topTokens(row.logits, this.beamSize + 1)) {
        const logprob = row.logits[token]! - norm;
        candidates.push({ parent, token, logprob, score: this.beams[parent]!.score + logprob });
      }
    });
    // Stable: equal scores keep the order of their beams and of the tokens within one.
    candidates.sort((a, b) => b.score - a.score);
    const next: Array<{ parent: number; token: number; hypothesis: Hypothesis }> = [];
    const ended: Hypothesis[] = [];
    for (const c of candidates) {
      if (next.length === this.beamSize) break;
      const parent = this.beams[c.parent]!;
      const attention = parent.attention && rows[c.parent]!.attention ? parent.attention.map((head, h) => [...head, rows[c.parent]!.attention![h]!]) : null;
      if (c.token === this.eot) {
        ended.push({ ...parent, score: c.score, attention });
        continue;
      }
      const child: Hypothesis = {
        tokens: [...parent.tokens, c.token],
        logprobs: [...parent.logprobs, c.logprob],
        sumLogprob: parent.sumLogprob + c.logprob,
        score: c.score,
        looped: false,
        attention,
      };
      const cut = c.token < this.eot ? loopCut(child.tokens.filter((t) => t < this.eot)) : null;
      if (cut !== null) {
        ended.push(cutLoop(child, cut, this.eot));
        continue;
      }
      next.push({ parent: c.parent, token: c.token, hypothesis: child });
    }
    for (const h of ended) if (this.ended.length < this.beamSize) this.ended.push(h);
    this.beams = next.map((n) => n.hypothesis);
    if (this.beams.length > 0 && this.beams[0]!.tokens.length >= this.limit) {
      // Out of positions: the reference's finalize fills up with the live beams, best first.
      for (const h of this.beams) if (this.ended.length < this.beamSize) this.ended.push(h);
      this.beams = [];
    }
    this.done = this.beams.length === 0 || this.ended.length >= this.beamSize;
    if (this.done) this.beams = [];
    return next.map(({ parent, token }) => ({ parent, token }));
  }

  /** The winner among the ended hypotheses. */
  best(): Hypothesis {
    if (this.ended.length === 0) throw new Error("beam search ended with no hypothesis");
    return this.ended.reduce((a, b) => (rankScore(b) > rankScore(a) ? b : a));
  }
}

/** The text up to the end of the loop's first copy, as the greedy decoder keeps it. */
function cutLoop(h: Hypothesis, cut: number, eot: number): Hypothesis {
  let text = 0;
  let keep = 0;
  while (keep < h.tokens.length && text < cut) if (h.tokens[keep++]! < eot) text++;
  const rows = keep + 1;
  return {
    ...h,
    tokens: h.tokens.slice(0, keep),
    logprobs: h.logprobs.slice(0, keep),
    looped: true,
    attention: h.attention?.map((head) => head.slice(0, rows)) ?? null,
  };
}

/** What beam search needs of the batched decoder: one row per live beam. */
export interface BeamDecoder {
  /** The last position's logits of `row` from the latest call. */
  logits(row: number): Float32Array;
  /** Per alignment head, `row`'s cross-attention over the first `frames` frames, or null without attention. */
  attention(row: number, frames: number): Float32Array[] | null;
  /** Feeds one token per new row; new row j continues the cache of row `parents[j]`. */
  advance(tokens: readonly number[], parents: readonly number[]): Promise<void>;
}

export interface BeamSearchOptions {
  beamSize: number;
  limit: number;
  eot: number;
  /** Applies the logit rules in place, given a hypothesis' tokens so far. */
  rules: (logits: Float32Array, tokens: readonly number[]) => void;
  /** Alignment heads kept for word timing, or null. */
  attentionHeads: number | null;
  signal?: AbortSignal;
}

/**
 * Beam search over windows decoded together: every window's live beams are rows
 * of one decoder batch, and after each step the rows are rebuilt from their
 * parents (the decoder gathers its cache by `parents`). Row r of the first call
 * is window r. A window leaves the batch once it is done.
 */
export async function beamSearch(decoder: BeamDecoder, audioFrames: readonly number[], options: BeamSearchOptions): Promise<Hypothesis[]> {
  const chunks = audioFrames.map(() => new BeamChunk(options.beamSize, options.limit, options.eot, options.attentionHeads));
  // The first row of each window's beams in the latest call.
  let firstRow = audioFrames.map((_, i) => i);
  for (;;) {
    options.signal?.throwIfAborted();
    const tokens: number[] = [];
    const parents: number[] = [];
    const nextFirst = chunks.map(() => -1);
    chunks.forEach((chunk, i) => {
      if (chunk.done) return;
      const at = firstRow[i]!;
      const rows = chunk.beams.map((beam, k): BeamRow => {
        const logits = decoder.logits(at + k);
        options.rules(logits, beam.tokens);
        return { logits, attention: decoder.attention(at + k, audioFrames[i]!) };
      });
      const next = chunk.step(rows);
      if (chunk.done) return;
      nextFirst[i] = parents.length;
      for (const n of next) {
        tokens.push(n.token);
        parents.push(at + n.parent);
      }
    });
    if (tokens.length === 0) break;
    firstRow = nextFirst;
    await decoder.advance(tokens, parents);
  }
  return chunks.map((c) => c.best());
}
