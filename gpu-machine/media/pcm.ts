/** The pipeline's one audio format: 16 kHz mono float32, as Whisper wants it. */
export const SAMPLE_RATE = 16_000;

/** A run of samples and where its first sample sits in the whole recording. */
export interface PcmBlock {
  startSample: number;
  samples: Float32Array;
}

/** Seconds to the sample grid; every boundary in the pipeline lives on it. */
export function toSample(sec: number): number {
  return Math.round(sec * SAMPLE_RATE);
}

export function toSec(sample: number): number {
  return sample / SAMPLE_RATE;
}

/** Blocks joined into one array, in order. */
export function concatSamples(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
