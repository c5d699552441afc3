/**
 * Turns one speaker's speech (16 kHz mono, concatenated, ≥ 0.5 s) into a
 * fixed-length vector; cosine similarity compares two. What the range diarizer
 * and the job's clustering know of a voice, whichever model made it.
 */
export interface SpeakerEmbedder {
  /** e.g. "logmel-stats", or "onnx:<dir name>". */
  readonly name: string;
  /** ≤ 512. */
  readonly dims: number;
  embed(audio: Float32Array): Promise<Float32Array>;
}

/** The shortest audio an embedder is given, in samples at 16 kHz (0.5 s). */
export const MIN_EMBED_SAMPLES = 8000;

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : 0;
}

/** The vector scaled to length 1 (a zero vector stays zero). */
export function unitLength(v: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  return Float32Array.from({ length: v.length }, (_, i) => v[i]! * scale);
}
