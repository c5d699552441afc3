import * as ort from "onnxruntime-node";
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
  const { decoder_layers: layers, decoder_attention_heads: heads, d_model: dModel, max_source_positions: frames } = model.config;
  const ids = [...context, ...sampled];
  const empty = new ort.Tensor("float32", new Float32Array(0), [1, heads, 0, dModel / heads]);
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor(
      "int64",
      BigInt64Array.from(ids, (t) => BigInt(t)),
      [1, ids.length],
    ),
    encoder_hidden_states: new ort.Tensor("float32", hidden, [1, frames, dModel]),
    use_cache_branch: new ort.Tensor("bool", [false], [1]),
  };
  for (let l = 0; l < layers; l++)
    for (const part of ["decoder", "encoder"]) for (const kv of ["key", "value"]) feeds[`past_key_values.${l}.${part}.${kv}`] = empty;
  const alignment = model.vocab.alignmentHeads;
  const decoder = await model.hostDecoder();
  const out = await decoder.run(
    feeds,
    [...new Set(alignment.map(([l]) => l))].map((l) => `cross_attentions.${l}`),
  );
  return alignment.map(([layer, head]) => {
    const tensor = out[`cross_attentions.${layer}`]!;
    const [, , steps, width] = tensor.dims as [number, number, number, number];
    const data = tensor.data as Float32Array;
    const rows: Float32Array[] = [];
    for (let p = context.length - 1; p < steps; p++) {
      const at = (head * steps + p) * width;
      rows.push(data.slice(at, at + audioFrames));
    }
    return rows;
  });
}
