import * as ort from "onnxruntime-node";

/**
 * The merged decoder's inputs and outputs by name, for the step-by-step decoder
 * (decode-batch.ts) and the one-call pass on the host (host-attention.ts).
 */
export type Feeds = Record<string, ort.Tensor>;

/** `ids` as the [batch, ids / batch] int64 input_ids. */
export function tokenIds(ids: readonly number[], batch: number): ort.Tensor {
  return new ort.Tensor(
    "int64",
    BigInt64Array.from(ids, (t) => BigInt(t)),
    [batch, ids.length / batch],
  );
}

/** Empty key/values for every layer: the first call of a sequence has no past. */
export function emptyPast(config: { decoder_layers: number; decoder_attention_heads: number; d_model: number }, batch: number): Feeds {
  const { decoder_layers: layers, decoder_attention_heads: heads, d_model: dModel } = config;
  const past: Feeds = {};
  for (let l = 0; l < layers; l++)
    for (const part of ["decoder", "encoder"])
      for (const kv of ["key", "value"])
        past[`past_key_values.${l}.${part}.${kv}`] = new ort.Tensor("float32", new Float32Array(0), [batch, heads, 0, dModel / heads]);
  return past;
}

/** The cross-attention outputs that hold the alignment heads. */
export function attentionOutputs(alignmentHeads: ReadonlyArray<readonly [number, number]>): string[] {
  return [...new Set(alignmentHeads.map(([l]) => l))].map((l) => `cross_attentions.${l}`);
}

/** Row `b`'s cross-attention at query `position` (the last when omitted), per alignment head, cropped to the audio. */
export function attentionRows(
  out: ort.InferenceSession.OnnxValueMapType,
  b: number,
  audioFrames: number,
  alignmentHeads: ReadonlyArray<readonly [number, number]>,
  position?: number,
): Float32Array[] {
  return alignmentHeads.flatMap(([layer, head]) => {
    const tensor = out[`cross_attentions.${layer}`];
    if (!tensor) return [];
    const [, heads, steps, frames] = tensor.dims as [number, number, number, number];
    const data = tensor.data as Float32Array;
    const at = ((b * heads + head) * steps + (position ?? steps - 1)) * frames;
    return [data.slice(at, at + audioFrames)];
  });
}
