import { mulberry32 } from "../../shared/mulberry32.ts";

/**
 * The decoding constraints of openai/whisper (decoding.py: SuppressBlank,
 * SuppressTokens, ApplyTimestampRules), applied in place to one row of logits.
 * Pure, so each rule can be tested on hand-made rows.
 */
export interface RuleTokens {
  eot: number;
  noTimestamps: number;
  timestampBegin: number;
  suppress: readonly number[];
  beginSuppress: readonly number[];
}

export interface RuleOptions {
  timestamps: boolean;
  /** Latest allowed first timestamp, in timestamp steps (50 = 1 s). */
  maxInitialTimestampIndex: number;
}

/** `sampled`: the tokens chosen so far after the prompt (timestamps included). */
export function applyLogitRules(logits: Float32Array, sampled: readonly number[], tokens: RuleTokens, options: RuleOptions): void {
  const tb = tokens.timestampBegin;
  const size = logits.length;
  if (sampled.length === 0) for (const t of tokens.beginSuppress) if (t < size) logits[t] = -Infinity;
  for (const t of tokens.suppress) logits[t] = -Infinity;
  if (!options.timestamps) {
    logits.fill(-Infinity, tb);
    return;
  }
  logits[tokens.noTimestamps] = -Infinity;

  const last = sampled.length >= 1 ? sampled[sampled.length - 1]! : -1;
  const penultimate = sampled.length >= 2 ? sampled[sampled.length - 2]! : -1;
  const lastWasTimestamp = last >= tb;
  const penultimateWasTimestamp = sampled.length < 2 || penultimate >= tb;
  if (lastWasTimestamp) {
    // Timestamps come in pairs: after a pair, text (or end); after a lone one, another timestamp or end.
    if (penultimateWasTimestamp) logits.fill(-Infinity, tb);
    else logits.fill(-Infinity, 0, tokens.eot);
  }

  let lastTimestamp = -1;
  for (let i = sampled.length - 1; i >= 0; i--) {
    if (sampled[i]! >= tb) {
      lastTimestamp = sampled[i]!;
      break;
    }
  }
  if (lastTimestamp >= 0) {
    // Never decreasing; strictly increasing inside a segment so no segment has zero length.
    const floor = lastWasTimestamp && !penultimateWasTimestamp ? lastTimestamp : lastTimestamp + 1;
    logits.fill(-Infinity, tb, Math.min(floor, size));
  }

  if (sampled.length === 0) {
    logits.fill(-Infinity, 0, tb);
    logits.fill(-Infinity, Math.min(size, tb + options.maxInitialTimestampIndex + 1));
  }

  // When the timestamps together are likelier than any single text token, take a timestamp.
  let maxText = -Infinity;
  for (let i = 0; i < tb; i++) if (logits[i]! > maxText) maxText = logits[i]!;
  if (logSumExp(logits, tb, size) > maxText) logits.fill(-Infinity, 0, tb);
}

export function logSumExp(values: Float32Array, from = 0, to = values.length): number {
  let max = -Infinity;
  for (let i = from; i < to; i++) if (values[i]! > max) max = values[i]!;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = from; i < to; i++) sum += Math.exp(values[i]! - max);
  return max + Math.log(sum);
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Softmax over a subset of tokens (for language detection and no-speech). */
export function softmaxOf(values: Float32Array, ids: readonly number[]): number[] {
  const picked = ids.map((id) => values[id]!);
  const max = Math.max(...picked);
  const exps = picked.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** A small seeded generator, so temperature fallback is reproducible run to run. */
export function seededRandom(seed: number): () => number {
  return mulberry32(seed >>> 0 || 0x9e3779b9);
}

/** Draws from softmax(logits / temperature). */
export function sampleToken(logits: Float32Array, temperature: number, random: () => number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  const weights = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    const w = logits[i] === -Infinity ? 0 : Math.exp((logits[i]! - max) / temperature);
    weights[i] = w;
    sum += w;
  }
  let target = random() * sum;
  for (let i = 0; i < weights.length; i++) {
    target -= weights[i]!;
    if (target <= 0 && weights[i]! > 0) return i;
  }
  return argmax(logits);
}
