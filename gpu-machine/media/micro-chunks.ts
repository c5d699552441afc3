import { SAMPLE_RATE, toSec, type PcmBlock } from "./pcm.ts";
import { quietestPoint, rms } from "./quietest-point.ts";
import type { SpeechDetector } from "./speech-detector.ts";

/**
 * Cuts a range's PCM into micro chunks for batched inference: each chunk is at
 * most `maxSec` long and ends at the quietest point of its second half (never
 * before `minSec`), the rest carried into the next chunk, so every sample lands in
 * exactly one chunk. Times come from sample positions, never from chunk counts.
 */
export interface MicroChunk {
  rangeIndex: number;
  seq: number;
  startSample: number;
  endSample: number;
  startSec: number;
  endSec: number;
  samples: Float32Array;
  /**
   * False when there is nothing to transcribe: VAD found no speech in it, or, with
   * VAD off, it is silence (no 32 ms frame above -70 dBFS). Such chunks cost no inference.
   */
  speech: boolean;
}

export interface MicroChunkOptions {
  rangeIndex: number;
  minSec?: number;
  maxSec?: number;
  /** Silero VAD; null to decide speech by level alone. */
  detector?: SpeechDetector | null;
}

const SILENCE_RMS = 10 ** (-70 / 20);

export async function* microChunks(blocks: AsyncIterable<PcmBlock>, options: MicroChunkOptions): AsyncGenerator<MicroChunk> {
  const minSec = options.minSec ?? 5;
  const maxSec = options.maxSec ?? 30;
  if (!(minSec > 0 && maxSec >= minSec * 2)) throw new RangeError(`micro chunks need 0 < min and max ≥ 2 × min (got ${minSec}–${maxSec} s)`);
  const maxSamples = Math.round(maxSec * SAMPLE_RATE);
  const minSamples = Math.round(minSec * SAMPLE_RATE);
  const detector = options.detector ?? null;

  const buf = new Float32Array(maxSamples);
  let length = 0;
  let bufStart: number | null = null;
  let seq = 0;

  const emit = (cut: number): MicroChunk => {
    const start = bufStart!;
    const samples = buf.slice(0, cut);
    buf.copyWithin(0, cut, length);
    length -= cut;
    bufStart = start + cut;
    return {
      rangeIndex: options.rangeIndex,
      seq: seq++,
      startSample: start,
      endSample: start + cut,
      startSec: toSec(start),
      endSec: toSec(start + cut),
      samples,
      speech: detector ? detector.speechIn(start, start + cut) : hasSound(samples),
    };
  };

  for await (const block of blocks) {
    if (bufStart === null) bufStart = block.startSample;
    else if (block.startSample !== bufStart + length) throw new Error(`micro chunks: block at sample ${block.startSample}, expected ${bufStart + length}`);
    await detector?.push(block);
    let at = 0;
    while (at < block.samples.length) {
      const n = Math.min(maxSamples - length, block.samples.length - at);
      buf.set(block.samples.subarray(at, at + n), length);
      length += n;
      at += n;
      if (length === maxSamples) {
        const from = Math.max(minSamples, Math.floor(maxSamples / 2));
        const base = bufStart;
        const cut = quietestPoint(buf, from, maxSamples, {
          prefer: maxSamples,
          avoid: detector ? (s, e) => detector.speechIn(base + s, base + e) : undefined,
        });
        yield emit(Math.max(1, cut));
      }
    }
  }
  await detector?.flush();
  if (length > 0) yield emit(length);
}

function hasSound(samples: Float32Array): boolean {
  const frame = 512;
  for (let i = 0; i < samples.length; i += frame) {
    if (rms(samples, i, Math.min(samples.length, i + frame)) > SILENCE_RMS) return true;
  }
  return false;
}
