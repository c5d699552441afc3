import * as ort from "onnxruntime-node";
import { attentionOutputs, attentionRows, emptyPast, tokenIds } from "./decoder-feeds.ts";
import type { WhisperModel } from "./whisper-model.ts";

/**
 * Cross-attention rows of the alignment heads for a sequence already decoded, from one
 * teacher-forced pass of the decoder on the host (openai/whisper's find_alignment does
 * the same). A decoder that keeps its states on the device (WebGPU) keeps its
 * cross-attention outputs there too, and reading them back aborted the process inside
 * onnxruntime; run again on the CPU, all tokens in one call (the no-cache branch is
 * causal), the sequence gives the rows the step-by-step decoder keeps on the CPU: one at
 * the last token of `context` (prompt, start-of-transcript, language, task) and one at
 * each sampled token, cropped to `audioFrames`.
 */
export async function hostAttention(
  model: WhisperModel,
  hidden: Float32Array,
  context: readonly number[],
  sampled: readonly number[],
  audioFrames: number,
): Promise<Float32Array[][]> {
  const { d_model: dModel, max_source_positions: frames } = model.config;
  const ids = [...context, ...sampled];
  const alignment = model.vocab.alignmentHeads;
  const decoder = await model.hostDecoder();
  const out = await decoder.run(
    {
      input_ids: tokenIds(ids, 1),
      encoder_hidden_states: new ort.Tensor("float32", hidden, [1, frames, dModel]),
      use_cache_branch: new ort.Tensor("bool", [false], [1]),
      ...emptyPast(model.config, 1),
    },
    attentionOutputs(alignment),
  );
  const rows: Float32Array[][] = alignment.map(() => []);
  for (let p = context.length - 1; p < ids.length; p++) attentionRows(out, 0, audioFrames, alignment, p).forEach((row, h) => rows[h]!.push(row));
  return rows;
}
