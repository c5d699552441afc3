import { describe, expect, it } from "vitest";
import { microChunks, type MicroChunk } from "./micro-chunks.ts";
import { SAMPLE_RATE, type PcmBlock } from "./pcm.ts";
import { quietestPoint } from "./quietest-point.ts";

/** Speech-like bursts (noise at 0.3) separated by quiet gaps, in odd-sized blocks. */
function signal(seconds: number, gaps: number[]): Float32Array {
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const out = new Float32Array(seconds * SAMPLE_RATE);
  for (let i = 0; i < out.length; i++) {
    const t = i / SAMPLE_RATE;
    const quiet = gaps.some((g) => t >= g && t < g + 0.4);
    out[i] = rand() * (quiet ? 0.001 : 0.3);
  }
  return out;
}

async function* blocks(samples: Float32Array, start: number): AsyncGenerator<PcmBlock> {
  let at = 0;
  let size = 777;
  while (at < samples.length) {
    const n = Math.min(size, samples.length - at);
    yield { startSample: start + at, samples: samples.slice(at, at + n) };
    at += n;
    size = ((size * 7919) % 50_000) + 100;
  }
}

async function all(samples: Float32Array, start = 0, min = 5, max = 30): Promise<MicroChunk[]> {
  const out: MicroChunk[] = [];
  for await (const c of microChunks(blocks(samples, start), { rangeIndex: 3, minSec: min, maxSec: max })) out.push(c);
  return out;
}

describe("micro chunks", () => {
  it("tile the stream exactly: lengths sum to it and the waveform reassembles bit for bit", async () => {
    const samples = signal(187, [12, 27.5, 44, 61, 70, 95, 118, 140, 151, 170]);
    const start = 1800 * SAMPLE_RATE + 123;
    const chunks = await all(samples, start);
    expect(chunks.reduce((n, c) => n + c.samples.length, 0)).toBe(samples.length);
    const joined = new Float32Array(samples.length);
    let at = 0;
    for (const [i, c] of chunks.entries()) {
      expect(c).toMatchObject({ rangeIndex: 3, seq: i, startSample: start + at, endSample: start + at + c.samples.length });
      expect(c.startSec).toBe(c.startSample / SAMPLE_RATE);
      expect(c.endSec).toBe(c.endSample / SAMPLE_RATE);
      joined.set(c.samples, at);
      at += c.samples.length;
    }
    expect(Buffer.from(joined.buffer).equals(Buffer.from(samples.buffer))).toBe(true);
  });

  it("are 5–30 s, cut inside quiet gaps in their second half", async () => {
    const gaps = [12, 27.5, 44, 61, 70, 95, 118, 140, 151, 170];
    const chunks = await all(signal(187, gaps));
    for (const c of chunks.slice(0, -1)) {
      const len = c.samples.length / SAMPLE_RATE;
      expect(len).toBeGreaterThanOrEqual(5);
      expect(len).toBeLessThanOrEqual(30);
      // Every cut that had a gap within reach landed in it.
      const gap = gaps.find((g) => g > c.startSec + 15 && g + 0.4 < c.startSec + 30);
      if (gap !== undefined) {
        const cutInGap = gaps.some((g) => c.endSec >= g && c.endSec <= g + 0.4);
        expect(cutInGap, `chunk ${c.seq} ends at ${c.endSec}`).toBe(true);
      }
    }
  });

  it("honour other bounds and refuse impossible ones", async () => {
    const chunks = await all(signal(60, []), 0, 2, 8);
    expect(chunks.every((c) => c.samples.length <= 8 * SAMPLE_RATE)).toBe(true);
    await expect(all(signal(10, []), 0, 10, 15)).rejects.toThrow(/max ≥ 2 × min/);
  });
});

describe("quietest point", () => {
  it("cuts in the middle of the longest silence, near the preferred point on ties", () => {
    const s = new Float32Array(16_000 * 10).fill(0.5);
    s.fill(0, 16_000 * 2, 16_000 * 3); // 1 s of silence at 2–3 s
    s.fill(0, 16_000 * 6, 16_000 * 6.5); // 0.5 s at 6–6.5 s
    expect(quietestPoint(s, 0, s.length) / 16_000).toBeCloseTo(2.5, 1);
    const t = new Float32Array(16_000 * 10).fill(0.5);
    t.fill(0, 16_000 * 2, 16_000 * 3);
    t.fill(0, 16_000 * 7, 16_000 * 8);
    expect(quietestPoint(t, 0, t.length, { prefer: 16_000 * 9 }) / 16_000).toBeCloseTo(7.5, 1);
    expect(quietestPoint(t, 0, t.length, { prefer: 0 }) / 16_000).toBeCloseTo(2.5, 1);
    // Spans flagged as speech are avoided when anything else qualifies.
    expect(quietestPoint(t, 0, t.length, { prefer: 0, avoid: (a) => a < 16_000 * 5 }) / 16_000).toBeCloseTo(7.5, 1);
  });
});
