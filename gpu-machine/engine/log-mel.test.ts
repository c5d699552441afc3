import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { missingShared, sharedPath } from "../../test/support/shared-data.ts";
import { logMelGraph, melFilters, PADDED_SAMPLES, padForStft } from "./log-mel.ts";

const need = missingShared("models/golden/jfk.wav", "models/golden/jfk_logmel_80x3000.f32", "models/whisper-assets/mel_80x201.f32");

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/** 16-bit PCM WAV, read as the reference does (int16 / 32768), walking the chunks. */
function wavSamples(path: string): Float32Array {
  const b = readFileSync(path);
  let at = 12;
  while (at < b.length) {
    const id = b.toString("ascii", at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === "data") return Float32Array.from(new Int16Array(b.buffer.slice(b.byteOffset + at + 8, b.byteOffset + at + 8 + size)), (v) => v / 32768);
    at += 8 + size + (size % 2);
  }
  throw new Error(`${path} has no data chunk`);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Runs the log-mel graph on the CPU provider over a batch of chunks; one feature array per chunk. */
async function logMel(nMels: number, chunks: Float32Array[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(logMelGraph(nMels), { executionProviders: ["cpu"], intraOpNumThreads: 2 });
  try {
    const input = new Float32Array(chunks.length * PADDED_SAMPLES);
    chunks.forEach((c, i) => padForStft(c, input, i * PADDED_SAMPLES));
    const { input_features: out } = await session.run({ audio: new ort.Tensor("float32", input, [chunks.length, PADDED_SAMPLES]) });
    expect(out!.dims).toEqual([chunks.length, nMels, 3000]);
    const data = out!.data as Float32Array;
    return chunks.map((_, i) => data.slice(i * nMels * 3000, (i + 1) * nMels * 3000));
  } finally {
    await session.release();
  }
}

const sine = Float32Array.from({ length: 16_000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16_000));

describe.skipIf(need.missing)("the log-mel graph against openai/whisper's reference", () => {
  it.each([80, 128])("the mel filterbank (%i bins) equals mel_filters.npz", (n) => {
    const ref = f32(sharedPath(`models/whisper-assets/mel_${n}x201.f32`));
    const dense = new Float32Array(n * 201);
    melFilters(n).forEach((f, m) => dense.set(f.weights, m * 201 + f.firstBin));
    expect(maxAbsDiff(dense, ref)).toBeLessThan(1e-7);
  });

  // float32 DFT kernels against the reference's float64 STFT: measured 1.4e-5 at 80 bins.
  it.each([80, 128])("JFK at %i bins is within 1e-4 of the golden array", async (n) => {
    const [out] = await logMel(n, [wavSamples(sharedPath("models/golden/jfk.wav"))]);
    expect(maxAbsDiff(out!, f32(sharedPath(`models/golden/jfk_logmel_${n}x3000.f32`)))).toBeLessThanOrEqual(1e-4);
  });

  it("each chunk of a batch is scaled by its own loudest frame, not the batch's", async () => {
    // The sine is far louder than JFK's quiet start; a batch-wide max − 8 clamp would flatten JFK.
    const [jfk, tone] = await logMel(80, [wavSamples(sharedPath("models/golden/jfk.wav")), sine]);
    expect(maxAbsDiff(jfk!, f32(sharedPath("models/golden/jfk_logmel_80x3000.f32")))).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDiff(tone!, f32(sharedPath("models/golden/sine440_logmel_80x3000.f32")))).toBeLessThanOrEqual(1e-4);
  });

  it("audio longer than 30 s is trimmed, not wrapped", async () => {
    const jfk = wavSamples(sharedPath("models/golden/jfk.wav"));
    const long = new Float32Array(45 * 16_000);
    long.set(jfk);
    long.set(jfk, 31 * 16_000); // beyond the window: must not change the features
    const [a, b] = await logMel(80, [long, jfk]);
    expect(maxAbsDiff(a!, b!)).toBe(0);
  });

  it("the reflection at the window's edges is torch.stft(center=True)'s", () => {
    const ramp = Float32Array.from({ length: 1000 }, (_, i) => i + 1);
    const padded = padForStft(ramp);
    expect(Array.from(padded.subarray(197, 203))).toEqual([4, 3, 2, 1, 2, 3]);
    // Past the audio the window is zeros, and the right reflection mirrors them.
    expect(padded[200 + 1000]).toBe(0);
    expect(padded.length).toBe(PADDED_SAMPLES);
  });
});
