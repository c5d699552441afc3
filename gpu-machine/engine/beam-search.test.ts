import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, readJsonl, sharedPath } from "../../test/support/shared-data.ts";
import { packagedModel } from "../../test/support/whisper-models.ts";
import { BeamChunk, type BeamRow, type Hypothesis, topTokens } from "./beam-search.ts";
import { type DecodedSequence, type DecodeOptions, decodeBatch } from "./decode-batch.ts";
import { writeFloatModel } from "./float-model.ts";
import { applyLogitRules, logSumExp } from "./logit-rules.ts";
import { WhisperModel } from "./whisper-model.ts";

// A toy vocabulary: 0–3 text, 4 end-of-text.
const EOT = 4;
/** A row of logits from token probabilities; tokens not named cannot be chosen. */
function row(probs: Record<number, number>, marker: number): BeamRow {
  const logits = new Float32Array(5).fill(-Infinity);
  for (const [token, p] of Object.entries(probs)) logits[Number(token)] = Math.log(p);
  return { logits, attention: [Float32Array.of(marker)] };
}
const markers = (h: Hypothesis) => h.attention![0]!.map((r) => r[0]);

describe("beam search bookkeeping", () => {
  it("keeps the beams that are likelier together, so the winner's parent can change from one step to the next, and its attention rows follow it", () => {
    const chunk = new BeamChunk(2, 100, EOT, 1);
    // Step 1: 0 is likeliest, 1 second: both go on.
    expect(chunk.step([row({ 0: 0.5, 1: 0.3, 2: 0.15, [EOT]: 0.05 }, 10)])).toEqual([
      { parent: 0, token: 0 },
      { parent: 0, token: 1 },
    ]);
    // Step 2: after 0 nothing is sure, after 1 token 3 is: "1 3" (0.27) passes "0" + end (0.2) and "0 2" (0.15).
    const next = chunk.step([row({ 2: 0.3, 3: 0.3, [EOT]: 0.4 }, 20), row({ 3: 0.9, [EOT]: 0.1 }, 21)]);
    expect(next).toEqual([
      { parent: 1, token: 3 },
      { parent: 0, token: 2 },
    ]);
    expect(chunk.ended.map((h) => h.tokens)).toEqual([[0]]);
    expect(chunk.done).toBe(false);
    // Step 3: both end; two ended hypotheses fill the beam.
    chunk.step([row({ 2: 0.1, [EOT]: 0.9 }, 30), row({ 3: 0.5, [EOT]: 0.5 }, 31)]);
    expect(chunk.done).toBe(true);
    const best = chunk.best();
    // log(0.243) / 2 tokens beats log(0.2) / 1 token: the reference's length normalisation.
    expect(best.tokens).toEqual([1, 3]);
    expect(best.score).toBeCloseTo(Math.log(0.3 * 0.9 * 0.9), 5);
    expect(best.sumLogprob).toBeCloseTo(Math.log(0.3 * 0.9), 5);
    expect(best.logprobs.map(Math.exp)).toEqual([expect.closeTo(0.3, 5), expect.closeTo(0.9, 5)]);
    // One attention row per step of its own history (the last is end-of-text's), not of the row it sat in.
    expect(markers(best)).toEqual([10, 21, 30]);
    expect(markers(chunk.ended.find((h) => h.tokens.length === 1)!)).toEqual([10, 20]);
  });

  it("a beam that falls into a token loop ends there, cut after the first copy, and ranks below a clean end", () => {
    const chunk = new BeamChunk(2, 100, EOT, null);
    chunk.beams = [
      { tokens: new Array(40).fill(1), logprobs: new Array(40).fill(-0.01), sumLogprob: -0.4, score: -0.4, looped: false, attention: null },
      { tokens: [2, 3], logprobs: [-2, -2], sumLogprob: -4, score: -4, looped: false, attention: null },
    ];
    chunk.step([
      { logits: Float32Array.of(-Infinity, 0, -Infinity, -Infinity, -Infinity), attention: null },
      { logits: Float32Array.of(-Infinity, -Infinity, -Infinity, -Infinity, 0), attention: null },
    ]);
    expect(chunk.done).toBe(true);
    const looped = chunk.ended.find((h) => h.looped)!;
    expect(looped.tokens).toEqual([1]);
    expect(chunk.best().tokens).toEqual([2, 3]);
  });

  it("out of positions, the live beams end as they are", () => {
    const chunk = new BeamChunk(2, 1, EOT, null);
    chunk.step([row({ 0: 0.6, 1: 0.4 }, 0)]);
    expect(chunk.done).toBe(true);
    expect(chunk.ended.map((h) => h.tokens)).toEqual([[0], [1]]);
    expect(chunk.best().tokens).toEqual([0]);
  });

  it("takes the likeliest tokens, a tie to the lower index as argmax does, and never an impossible one", () => {
    expect(topTokens(Float32Array.of(1, 3, -Infinity, 3, 2, 0), 3)).toEqual([1, 3, 4]);
    expect(topTokens(Float32Array.of(-Infinity, 1, -Infinity), 3)).toEqual([1]);
  });
});

interface ManifestItem {
  audio: string;
}
const SET = "librispeech-test-other";
const need = missingShared(`data/speech/${SET}/manifest.jsonl`);

describe.skipIf(need.missing)("beam search in the batched decoder (whisper-tiny as float32)", () => {
  // Float32, because the int8 export quantizes activations per batch tensor: a row's
  // log-probabilities then move with its batch neighbours, and a sequence could not be
  // scored the same way twice. In float32 they agree to a millionth.
  let dir: string;
  let model: WhisperModel;
  let hidden: Float32Array[];
  let audioFrames: number[];
  const options: DecodeOptions = { task: "transcribe", temperature: 0, timestamps: true, attention: true, maxInitialTimestampSec: 1 };
  const decode = (extra: Partial<DecodeOptions> = {}) =>
    decodeBatch(
      model,
      hidden.map((h, i) => ({ hidden: h, language: "en", audioFrames: audioFrames[i]!, seed: i })),
      { ...options, ...extra },
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "whisper-beam-"));
    writeFloatModel(await packagedModel("tiny"), dir, "fp32");
    model = await WhisperModel.load(dir, { threads: 2, variant: "fp32" });
    const items = readJsonl<ManifestItem>(sharedPath("data", "speech", SET, "manifest.jsonl")).slice(0, 8);
    const clips = await Promise.all(items.map((item) => decodeWhole(sharedPath("data", "speech", SET, item.audio))));
    hidden = await model.encode(clips);
    audioFrames = clips.map((c) => Math.ceil(c.length / 320));
  }, 120_000);
  afterAll(async () => {
    await model?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Log-probabilities of `tokens` then end-of-text, teacher-forced in one call without a cache, under the same logit rules. */
  async function forced(h: Float32Array, tokens: readonly number[]): Promise<number[]> {
    const { vocab, config } = model;
    const prompt = [vocab.sot, vocab.languageToken("en")!, vocab.tasks.transcribe!];
    const ids = [...prompt, ...tokens];
    const headDim = config.d_model / config.decoder_attention_heads;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]),
      encoder_hidden_states: new ort.Tensor("float32", h, [1, config.max_source_positions, config.d_model]),
      use_cache_branch: new ort.Tensor("bool", [false], [1]),
    };
    for (let l = 0; l < config.decoder_layers; l++)
      for (const part of ["decoder", "encoder"])
        for (const kv of ["key", "value"])
          feeds[`past_key_values.${l}.${part}.${kv}`] = new ort.Tensor("float32", new Float32Array(0), [1, config.decoder_attention_heads, 0, headDim]);
    const logits = (await model.decoder.run(feeds, ["logits"])).logits!.data as Float32Array;
    return [...tokens, vocab.eot].map((token, k) => {
      const at = (prompt.length - 1 + k) * vocab.size;
      const r = logits.slice(at, at + vocab.size);
      applyLogitRules(r, tokens.slice(0, k), vocab, { timestamps: true, maxInitialTimestampIndex: 50 });
      return r[token]! - logSumExp(r);
    });
  }
  /** The reference's ranking score: sum log-probability, end-of-text included, over length. */
  const score = (logprobs: number[], s: DecodedSequence) => logprobs.reduce((a, b) => a + b, 0) / s.tokens.length;

  it("one beam through the beam search picks greedy's tokens, with the same log-probabilities and attention rows", async () => {
    const [greedy, one] = [await decode(), await decode({ beamSize: 1 })];
    expect(one.map((s) => s.tokens)).toEqual(greedy.map((s) => s.tokens));
    expect(one.map((s) => s.logprobs)).toEqual(greedy.map((s) => s.logprobs));
    expect(one.map((s) => s.sumLogprob)).toEqual(greedy.map((s) => s.sumLogprob));
    expect(one.map((s) => s.attention)).toEqual(greedy.map((s) => s.attention));
  }, 300_000);

  it("five beams: the cache follows each beam's parent (its tokens score as teacher-forced), and the winner scores at least greedy's", async () => {
    const [greedy, beams] = [await decode(), await decode({ beamSize: 5 })];
    // The search left greedy's path on some clips: there a beam that was not the likeliest became the winner's parent.
    expect(beams.filter((s, i) => s.tokens.join() !== greedy[i]!.tokens.join()).length).toBeGreaterThanOrEqual(2);
    for (const [i, s] of beams.entries()) {
      const mine = await forced(hidden[i]!, s.tokens);
      // A cache row taken from the wrong beam puts some tokens off by nats.
      for (const [k, lp] of s.logprobs.entries()) expect(Math.abs(lp - mine[k]!)).toBeLessThan(1e-3);
      expect(score(mine, s)).toBeGreaterThanOrEqual(score(await forced(hidden[i]!, greedy[i]!.tokens), greedy[i]!) - 1e-4);
      expect(s.looped).toBe(false);
      for (const head of s.attention!) expect(head.length).toBe(s.tokens.length + 1);
    }
  }, 300_000);
});
