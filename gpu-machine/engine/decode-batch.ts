import * as ort from "onnxruntime-node";
import { type BeamDecoder, beamSearch } from "./beam-search.ts";
import { attentionOutputs, attentionRows, emptyPast, type Feeds, tokenIds } from "./decoder-feeds.ts";
import { applyLogitRules, argmax, logSumExp, sampleToken, seededRandom, softmaxOf } from "./logit-rules.ts";
import { hostAttention } from "./host-attention.ts";
import { loopCut } from "./quality.ts";
import { TIMESTAMP_STEP_SEC } from "./vocab.ts";
import type { WhisperModel } from "./whisper-model.ts";

/** One window to decode: its encoder output and what to force. */
export interface DecodeItem {
  /** last_hidden_state of this window, [1500 × d_model]. */
  hidden: Float32Array;
  /** ISO code to force, or null to detect from the first step. */
  language: string | null;
  /** Encoder frames (20 ms) that hold audio; cross-attention is kept only for these. */
  audioFrames: number;
  seed: number;
}

export interface DecodeOptions {
  task: "transcribe" | "translate";
  temperature: number;
  timestamps: boolean;
  /** Keep cross-attention of the alignment heads for word timing. */
  attention: boolean;
  maxInitialTimestampSec: number;
  /** Tokens before <|startoftranscript|>, the same for every item: a prompt (prompt.ts). Conditioning only, never sampled. */
  prefix?: readonly number[];
  /** Stop after the first step: language and no-speech probabilities only. */
  detectOnly?: boolean;
  /**
   * Beam search with this many beams per window at temperature 0 (beam-search.ts);
   * greedy without it. One beam picks what greedy picks, at a little more cost.
   * Greedy where the KV cache stays on the device (WebGPU): tried on Mesa's software
   * Vulkan, the process aborted, likely because beam search changes the batch's rows
   * and such a session binds its outputs to one shape (whisper-model.ts).
   */
  beamSize?: number;
  signal?: AbortSignal;
}

export interface DecodedSequence {
  /** Sampled tokens after the prompt, end-of-text excluded. */
  tokens: number[];
  sumLogprob: number;
  /** Log-probability of each sampled token. */
  logprobs: number[];
  noSpeechProb: number;
  language: string;
  languageProbs: Record<string, number> | null;
  looped: boolean;
  /** Per alignment head, one row of `audioFrames` weights per sampled token plus one for end-of-text. */
  attention: Float32Array[][] | null;
}

interface Active {
  index: number;
  sampled: number[];
  textPositions: number[];
  sumLogprob: number;
  logprobs: number[];
  random: () => number;
  attention: Float32Array[][] | null;
}

/** Copies batch rows `keep` of a [B, ...] host tensor into a new tensor (a row may be taken twice). */
function takeRows(tensor: ort.Tensor, keep: readonly number[]): ort.Tensor {
  const dims = tensor.dims;
  const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
  const data = tensor.data as Float32Array;
  const out = new Float32Array(keep.length * rowSize);
  keep.forEach((row, i) => out.set(data.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize));
  return new ort.Tensor("float32", out, [keep.length, ...dims.slice(1)]);
}

/**
 * takeRows for a tensor that may live on the device (brought to the host, where the
 * rows are picked), and that is ours to overwrite. Rows only dropped are moved down
 * in place: a new array for the encoder's states of 40 beams is 1.5 GB for
 * whisper-base, and allocating one each time a window ended took 70 % of a beam
 * search's time (mostly the kernel's, zeroing fresh pages).
 */
async function gatherRows(tensor: ort.Tensor, keep: readonly number[]): Promise<ort.Tensor> {
  const host = tensor.location === "gpu-buffer" ? new ort.Tensor("float32", (await tensor.getData(true)) as Float32Array, tensor.dims) : tensor;
  if (!keep.every((row, i) => i === 0 || row > keep[i - 1]!)) return takeRows(host, keep);
  const dims = host.dims;
  const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
  const data = host.data as Float32Array;
  keep.forEach((row, i) => {
    if (row !== i) data.copyWithin(i * rowSize, row * rowSize, (row + 1) * rowSize);
  });
  return new ort.Tensor("float32", data.subarray(0, keep.length * rowSize), [keep.length, ...dims.slice(1)]);
}

/** Whether `rows` is 0, 1, …, size − 1. */
function isIdentity(rows: readonly number[], size: number): boolean {
  return rows.length === size && rows.every((r, i) => r === i);
}

/**
 * The most logits the first call may return. It returns a row per prefix token: a
 * 224-token prompt over a GPU-sized batch of 64 would be 3 GB, so such a batch is
 * decoded in parts. Without a prompt no batch comes near it.
 */
const FIRST_LOGITS_BYTES = 2 ** 30;

/**
 * Greedy (or, above temperature 0, sampled) decoding of several windows at once
 * with the merged decoder's KV cache. A sequence that ends leaves the batch, so the
 * rest run on a smaller batch. The tokens after start-of-transcript (language, task)
 * are fed one per call: the with-cache branch of this export has no causal mask
 * between tokens of one call. A prefix goes with start-of-transcript into the first
 * call, whose branch has one.
 */
export async function decodeBatch(model: WhisperModel, items: readonly DecodeItem[], options: DecodeOptions): Promise<DecodedSequence[]> {
  const rows = Math.max(1, Math.floor(FIRST_LOGITS_BYTES / (((options.prefix?.length ?? 0) + 1) * model.vocab.size * 4)));
  if (items.length > rows) {
    const out: DecodedSequence[] = [];
    for (let at = 0; at < items.length; at += rows) out.push(...(await decodeBatch(model, items.slice(at, at + rows), options)));
    return out;
  }
  const { vocab, config } = model;
  const { d_model: dModel } = config;
  const maxTokens = config.max_target_positions;
  const V = vocab.size;
  const B = items.length;
  const frames = config.max_source_positions;

  const hidden = new Float32Array(B * frames * dModel);
  items.forEach((item, i) => hidden.set(item.hidden, i * frames * dModel));

  const past = emptyPast(config, B);
  const decoderPresent = model.decoderOutputs.present.filter((n) => n.includes(".decoder."));
  const attention = options.attention ? attentionOutputs(vocab.alignmentHeads) : [];
  // A device that keeps the states keeps the cross-attention too: its rows come from a
  // pass on the host once the sequences are decoded (host-attention.ts).
  const attend = options.attention && !model.statesOnDevice;

  const encoderStates: Feeds = {};
  let selfStates: Feeds = {};
  const run = async (ids: number[], first: boolean, batch: number, encoderStates: Feeds | null, selfStates: Feeds, withAttention: boolean) => {
    const feeds: Feeds = {
      input_ids: tokenIds(ids, batch),
      // The with-cache branch never reads encoder_hidden_states; a one-frame stand-in saves copying 1500 frames per step.
      encoder_hidden_states: first
        ? new ort.Tensor("float32", hidden, [B, frames, dModel])
        : new ort.Tensor("float32", new Float32Array(batch * dModel), [batch, 1, dModel]),
      use_cache_branch: new ort.Tensor("bool", [!first], [1]),
      ...selfStates,
      ...(encoderStates ?? {}),
    };
    const fetch = ["logits", ...(first ? model.decoderOutputs.present : decoderPresent), ...(withAttention ? attention : [])];
    return (first ? model.decoder : model.cachedDecoder).run(feeds, fetch);
  };
  try {
    return await decodeSteps();
  } finally {
    // States kept on the device are freed here: onnxruntime does not collect GPU buffers.
    for (const t of [...Object.values(selfStates), ...Object.values(encoderStates)]) if (t.location === "gpu-buffer") t.dispose();
  }

  async function decodeSteps(): Promise<DecodedSequence[]> {
    // Step 1: the start-of-transcript token alone. Its logits give the no-speech
    // probability and, over the language tokens, the language.
    const taskToken = options.task === "translate" ? vocab.tasks.translate : vocab.tasks.transcribe;
    if (taskToken === null) throw new Error("This model cannot translate (no <|translate|> token)");
    const languageCodes = [...vocab.languages.keys()];
    const languageIds = languageCodes.map((c) => vocab.languages.get(c)!);
    const promptLength = (languageIds.length > 0 ? 2 : 0) + (options.timestamps ? 0 : 1);
    const prefix = options.prefix ?? [];
    let detected: Float32Array | null = null;
    if (prefix.length > 0 && languageIds.length > 0 && items.some((item) => item.language === null)) {
      // The original detects the language from <|startoftranscript|> alone, before any prompt.
      const seen = await run(new Array<number>(B).fill(vocab.sot), true, B, null, past, false);
      detected = seen.logits!.data as Float32Array;
      for (const [name, t] of Object.entries(seen)) if (name !== "logits" && t.location === "gpu-buffer") t.dispose();
    }
    // The prefix and start-of-transcript in one call; its logits hold a row per token (the last is used).
    const first = [...prefix, vocab.sot];
    let out = await run(
      items.flatMap(() => first),
      true,
      B,
      null,
      past,
      attend && promptLength === 0,
    );
    const collectStates = (result: ort.InferenceSession.OnnxValueMapType, withEncoder: boolean) => {
      const previous = selfStates;
      selfStates = {};
      for (const name of decoderPresent) selfStates[name.replace("present", "past_key_values")] = result[name]!;
      for (const t of Object.values(previous)) if (t.location === "gpu-buffer") t.dispose();
      if (withEncoder)
        for (const name of model.decoderOutputs.present.filter((n) => n.includes(".encoder.")))
          encoderStates[name.replace("present", "past_key_values")] = result[name]!;
    };
    collectStates(out, true);

    const firstLogits = out.logits!.data as Float32Array;
    const results: DecodedSequence[] = items.map((item, b) => {
      // The logits after start-of-transcript: the last of this row's steps.
      const row = firstLogits.subarray(((b + 1) * first.length - 1) * V, (b + 1) * first.length * V);
      const noSpeechProb = vocab.noSpeech === null ? 0 : Math.exp(row[vocab.noSpeech]! - logSumExp(row));
      let languageProbs: Record<string, number> | null = null;
      let language = item.language ?? "en";
      if (item.language === null && languageIds.length > 0) {
        const probs = softmaxOf(detected ? detected.subarray(b * V, (b + 1) * V) : row, languageIds);
        languageProbs = Object.fromEntries(languageCodes.map((c, i) => [c, probs[i]!]));
        language = languageCodes[probs.indexOf(Math.max(...probs))]!;
      }
      return { tokens: [], sumLogprob: 0, logprobs: [], noSpeechProb, language, languageProbs, looped: false, attention: null };
    });

    if (options.detectOnly) return results;

    const prompt = (b: number): number[] => {
      const rest: number[] = [];
      if (languageIds.length > 0) rest.push(vocab.languageToken(results[b]!.language)!, taskToken);
      if (!options.timestamps) rest.push(vocab.noTimestamps);
      return rest;
    };
    for (let p = 0; p < promptLength; p++) {
      out = await run(
        items.map((_, b) => prompt(b)[p]!),
        false,
        B,
        encoderStates,
        selfStates,
        attend && p === promptLength - 1,
      );
      collectStates(out, false);
    }

    const ruleOptions = { timestamps: options.timestamps, maxInitialTimestampIndex: Math.round(options.maxInitialTimestampSec / TIMESTAMP_STEP_SEC) };
    const limit = maxTokens - first.length - promptLength;
    if (options.beamSize !== undefined && options.temperature === 0 && !model.statesOnDevice) {
      const found = await beamSearch(
        beamDecoder(),
        items.map((item) => item.audioFrames),
        {
          beamSize: options.beamSize,
          limit,
          eot: vocab.eot,
          rules: (row, tokens) => applyLogitRules(row, tokens, vocab, ruleOptions),
          attentionHeads: options.attention ? vocab.alignmentHeads.length : null,
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
      found.forEach((h, b) =>
        Object.assign(results[b]!, { tokens: h.tokens, sumLogprob: h.sumLogprob, logprobs: h.logprobs, looped: h.looped, attention: h.attention }),
      );
      return results;
    }

    // Where the states live on the device, finished rows stay in the batch (fed end-of-text,
    // their outputs ignored) rather than bring every state back to the host to drop them.
    const compact = !model.statesOnDevice;
    let active: Array<Active | null> = items.map((item, index) => ({
      index,
      sampled: [],
      textPositions: [],
      sumLogprob: 0,
      logprobs: [],
      random: seededRandom(item.seed),
      attention: attend ? vocab.alignmentHeads.map(() => []) : null,
    }));

    while (active.some((seq) => seq !== null)) {
      options.signal?.throwIfAborted();
      const logits = out.logits!.data as Float32Array;
      const steps = out.logits!.dims[1]!;
      const next: number[] = [];
      const keep: number[] = [];
      active.forEach((seq, b) => {
        if (seq === null) return;
        const row = logits.subarray((b * steps + steps - 1) * V, (b * steps + steps) * V);
        if (seq.attention) keepAttention(seq, items[seq.index]!.audioFrames, out, b, vocab.alignmentHeads);
        applyLogitRules(row, seq.sampled, vocab, ruleOptions);
        const token = options.temperature > 0 ? sampleToken(row, options.temperature, seq.random) : argmax(row);
        const result = results[seq.index]!;
        if (token === vocab.eot) return finish(seq, result);
        const logprob = row[token]! - logSumExp(row);
        seq.sumLogprob += logprob;
        seq.logprobs.push(logprob);
        seq.sampled.push(token);
        if (token < vocab.eot) {
          seq.textPositions.push(seq.sampled.length - 1);
          const cut = loopCut(seq.sampled.filter((t) => t < vocab.eot));
          if (cut !== null) {
            // Keep the text up to the end of the first copy of the repeated block.
            seq.sampled.length = seq.textPositions[cut - 1]! + 1;
            seq.logprobs.length = seq.sampled.length;
            result.looped = true;
            return finish(seq, result);
          }
        }
        if (seq.sampled.length >= limit) return finish(seq, result);
        next.push(token);
        keep.push(b);
      });
      if (!compact) {
        // Every row takes a token: those that go on their own, the ended ones end-of-text.
        const goesOn = new Map(keep.map((b, i) => [b, next[i]!]));
        next.splice(0, next.length, ...active.map((_, b) => goesOn.get(b) ?? vocab.eot));
        active = active.map((seq, b) => (goesOn.has(b) ? seq : null));
      } else if (keep.length < active.length) {
        // A smaller batch: the rows that go on are copied out.
        for (const name of Object.keys(selfStates)) selfStates[name] = takeRows(selfStates[name]!, keep);
        for (const name of Object.keys(encoderStates)) encoderStates[name] = takeRows(encoderStates[name]!, keep);
        active = keep.map((b) => active[b]!);
      }
      if (!active.some((seq) => seq !== null)) break;
      out = await run(next, false, active.length, encoderStates, selfStates, attend);
      collectStates(out, false);
    }
    if (options.attention && !attend)
      for (const [b, result] of results.entries())
        result.attention = await hostAttention(model, items[b]!.hidden, [...first, ...prompt(b)], result.tokens, items[b]!.audioFrames);
    return results;

    /**
     * The batch as beam search sees it: a row per live beam. Each step the decoder's
     * cache is rebuilt from the beams' parents; the encoder's key/values, the same
     * for every beam of a window, are gathered only when the windows' rows change
     * (the first step, where each window grows to its beams, and when one ends).
     */
    function beamDecoder(): BeamDecoder {
      // The window of each decoder row, and of each row of the encoder states.
      let rowWindow = items.map((_, i) => i);
      let encoderWindow = rowWindow;
      return {
        logits: (row) => {
          const steps = out.logits!.dims[1]!;
          return (out.logits!.data as Float32Array).subarray((row * steps + steps - 1) * V, (row * steps + steps) * V);
        },
        attention: (row, audioFrames) => (options.attention ? attentionRows(out, row, audioFrames, vocab.alignmentHeads) : null),
        advance: async (tokens, parents) => {
          if (!isIdentity(parents, out.logits!.dims[0]!))
            for (const name of Object.keys(selfStates)) selfStates[name] = await gatherRows(selfStates[name]!, parents);
          const windows = parents.map((p) => rowWindow[p]!);
          // Any row of a window's encoder states serves any of its beams: the k-th beam takes
          // the k-th, so an unchanged layout needs no copy and an ended window only a move down.
          const held = new Map<number, number[]>();
          encoderWindow.forEach((w, r) => (held.get(w) ?? held.set(w, []).get(w)!).push(r));
          const wanted = windows.map((w, j) => {
            const rows = held.get(w)!;
            const k = windows.slice(0, j).filter((x) => x === w).length;
            return rows[Math.min(k, rows.length - 1)]!;
          });
          if (!isIdentity(wanted, encoderWindow.length))
            for (const name of Object.keys(encoderStates)) encoderStates[name] = await gatherRows(encoderStates[name]!, wanted);
          rowWindow = windows;
          encoderWindow = windows;
          out = await run([...tokens], false, tokens.length, encoderStates, selfStates, options.attention);
          collectStates(out, false);
        },
      };
    }
  }
}

function finish(seq: Active, result: DecodedSequence): void {
  result.tokens = seq.sampled;
  result.sumLogprob = seq.sumLogprob;
  result.logprobs = seq.logprobs;
  result.attention = seq.attention;
  if (seq.attention) for (const head of seq.attention) head.length = Math.min(head.length, seq.sampled.length + 1);
}

/** Saves this step's cross-attention rows of the alignment heads, cropped to the audio. */
function keepAttention(
  seq: Active,
  audioFrames: number,
  out: ort.InferenceSession.OnnxValueMapType,
  b: number,
  alignmentHeads: ReadonlyArray<readonly [number, number]>,
): void {
  attentionRows(out, b, audioFrames, alignmentHeads).forEach((row, h) => seq.attention![h]!.push(row));
}
