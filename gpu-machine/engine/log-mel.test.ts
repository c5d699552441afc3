import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { missingShared, sharedPath } from "../../test/support/shared-data.ts";
import { LogMel, melFilters } from "./log-mel.ts";

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

describe.skipIf(need.missing)("log-mel features against openai/whisper's reference", () => {
  it.each([80, 128])("the mel filterbank (%i bins) equals mel_filters.npz", (n) => {
    const ref = f32(sharedPath(`models/whisper-assets/mel_${n}x201.f32`));
    const dense = new Float32Array(n * 201);
    melFilters(n).forEach((f, m) => dense.set(f.weights, m * 201 + f.firstBin));
    expect(maxAbsDiff(dense, ref)).toBeLessThan(1e-7);
  });

  it.each([80, 128])("JFK at %i bins is within 1e-4 of the golden array", (n) => {
    const out = new LogMel(n).compute(wavSamples(sharedPath("models/golden/jfk.wav")));
    expect(out.length).toBe(n * 3000);
    expect(maxAbsDiff(out, f32(sharedPath(`models/golden/jfk_logmel_${n}x3000.f32`)))).toBeLessThanOrEqual(1e-4);
  });

  it("a 440 Hz sine padded to 30 s matches too", () => {
    const sine = Float32Array.from({ length: 16_000 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16_000));
    expect(maxAbsDiff(new LogMel(80).compute(sine), f32(sharedPath("models/golden/sine440_logmel_80x3000.f32")))).toBeLessThanOrEqual(1e-4);
  });

  it("audio longer than 30 s is trimmed, not wrapped", () => {
    const jfk = wavSamples(sharedPath("models/golden/jfk.wav"));
    const long = new Float32Array(45 * 16_000);
    long.set(jfk);
    long.set(jfk, 31 * 16_000); // beyond the window: must not change the features
    expect(maxAbsDiff(new LogMel(80).compute(long), new LogMel(80).compute(jfk))).toBe(0);
  });
});
