import { describe, expect, it } from "vitest";
import {
  type FbankOptions,
  frameCount,
  inverseMelScale,
  KALDI_DEFAULTS,
  KaldiFbank,
  type KaldiWindow,
  LOG_FLOOR,
  melCentres,
  melScale,
  subtractMean,
  windowFunction,
} from "./kaldi-fbank.ts";
import { mulberry32 as seededNoise } from "../../shared/mulberry32.ts";

const tone = (hz: number, n: number, amplitude = 0.5) => Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / 16_000));

/** Two tones, a chirp from 200 Hz and seeded noise: 0.3 s with energy across the band. */
function testSignal(): Float32Array {
  const noise = seededNoise(12345);
  return Float32Array.from({ length: 4800 }, (_, i) => {
    const t = i / 16_000;
    return (
      0.3 * Math.sin(2 * Math.PI * 440 * t) +
      0.2 * Math.sin(2 * Math.PI * 3150 * t) +
      0.1 * Math.sin(2 * Math.PI * (200 + 20_000 * t) * t) +
      0.05 * (noise() * 2 - 1)
    );
  });
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * The same front end written the slow, obvious way from Kaldi's description
 * (feature-window.cc, mel-computations.cc): a direct DFT instead of the FFT,
 * a dense filterbank, one frame at a time.
 */
function naiveFrame(samples: Float32Array, start: number, o: FbankOptions): number[] {
  const len = 400;
  const n = 512;
  const x = Array.from({ length: len }, (_, i) => samples[start + i]! * o.sampleScale);
  const mean = x.reduce((a, b) => a + b, 0) / len;
  const centred = x.map((v) => v - mean);
  const emphasised = centred.map((v, i) => v - 0.97 * (i === 0 ? v : centred[i - 1]!));
  const windowed = emphasised.map((v, i) => {
    const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (len - 1));
    return v * (o.window === "povey" ? hann ** 0.85 : 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (len - 1)));
  });
  const power = Array.from({ length: n / 2 }, (_, k) => {
    let re = 0;
    let im = 0;
    for (let i = 0; i < len; i++) {
      re += windowed[i]! * Math.cos((2 * Math.PI * k * i) / n);
      im -= windowed[i]! * Math.sin((2 * Math.PI * k * i) / n);
    }
    return re * re + im * im;
  });
  const mel = (hz: number) => 1127 * Math.log(1 + hz / 700);
  const high = o.highFreq > 0 ? o.highFreq : 8000 + o.highFreq;
  const delta = (mel(high) - mel(o.lowFreq)) / (o.numMelBins + 1);
  return Array.from({ length: o.numMelBins }, (_, b) => {
    const left = mel(o.lowFreq) + b * delta;
    let energy = 0;
    for (let k = 0; k < n / 2; k++) {
      const m = mel((k * 16_000) / n);
      const w = Math.max(0, Math.min((m - left) / delta, (left + 2 * delta - m) / delta));
      energy += w * power[k]!;
    }
    return Math.log(Math.max(energy, 2 ** -23));
  });
}

// kaldi-native-fbank 1.22 (the C++ front end sherpa-onnx links) on testSignal(): frames 1, 10 and 25
// of 30, with sherpa-onnx's speaker options (povey window, 20–7600 Hz, snip_edges off, samples as
// given, no dither). Dumped once by an ONNX model whose output is its flattened input, loaded into
// sherpa-onnx-node 1.13.8's SpeakerEmbeddingExtractor; printed to 4 decimals.
const KALDI_NATIVE_FBANK: Record<number, number[]> = {
  1: [
    -9.9796, -8.2347, -7.7402, -7.5936, -7.5611, -7.7573, -7.3362, -8.5353, -7.5228, -6.038, -6.2833, -3.491, -1.7513, 2.1398, 3.2769, 2.8214, 0.404, -1.7641,
    -0.6887, -0.0435, 0.3226, 0.1618, 0.4495, 0.7701, 0.8032, 0.9774, 0.808, 0.5258, 0.6784, 0.2152, -0.3715, -0.9824, -2.4449, -3.1305, -4.6612, -3.859,
    -2.5435, -3.1823, -3.0559, -2.3056, -2.087, -2.2735, -1.3417, -2.3275, -1.0101, -2.2727, -2.2253, -1.2279, -1.0872, -1.1015, -0.5434, -1.062, -0.5273,
    -0.9009, 6.183, 6.3743, 0.1811, -0.065, -0.0694, -0.937, -0.7016, -0.5911, 0.4919, 0.1165, 0.5391, 0.5187, 0.6232, 1.2617, 1.4797, 0.5505, -0.5585, 0.1576,
    1.672, 1.8712, 1.172, 0.592, 1.0114, 1.2677, 1.4367, 2.2084,
  ],
  10: [
    -9.8749, -10.4343, -8.7387, -8.9172, -9.282, -10.9676, -9.2695, -7.3531, -7.7348, -6.8401, -5.8182, -3.9694, -2.188, 2.074, 3.3216, 2.8867, 0.151, -3.321,
    -6.1117, -5.4153, -5.9681, -5.1939, -4.3462, -3.8613, -5.0239, -3.8611, -4.2508, -5.1517, -3.859, -2.6473, -2.305, -2.6708, -1.7304, -2.0159, -1.3899,
    -0.7197, -1.7881, -2.0583, -2.2616, -2.9685, -3.5632, -3.6111, -1.9858, -1.1974, -1.5318, -2.2615, -0.7231, -0.6754, -1.7082, -1.4037, -0.8982, -0.8668,
    -0.5256, -0.3584, 6.2055, 6.4027, 0.3006, -0.0448, 0.6978, 0.2032, 0.0798, 2.1267, 3.7481, 4.8084, 5.1769, 4.679, 3.2024, 1.1065, 0.2963, 0.587, 1.0804,
    0.8877, 0.8262, 1.1221, 1.4074, 0.9998, 1.2537, 1.3085, 1.6893, 1.5647,
  ],
  25: [
    -10.3127, -9.4947, -9.1788, -9.2886, -9.5772, -10.8263, -9.6516, -6.4038, -6.2065, -5.4199, -4.6813, -3.8661, -2.1815, 2.0842, 3.333, 2.903, 0.2049,
    -3.8232, -3.8686, -4.368, -4.116, -3.4782, -3.2505, -2.5278, -2.5293, -2.2817, -2.8329, -3.6842, -4.9471, -4.7014, -4.8143, -3.9716, -4.1035, -2.9163,
    -2.8432, -1.861, -2.2288, -2.9398, -2.156, -1.6487, -2.2945, -2.7654, -1.9577, -1.9924, -2.6139, -1.9651, -1.3731, -2.8799, -1.3711, -0.8363, -1.3887,
    -1.1836, -0.5762, -0.1549, 6.2027, 6.3977, -0.5152, -0.4861, -0.2134, -0.6277, 0.2249, -0.7165, -1.1432, -0.2756, -0.5838, 0.5326, 0.7217, 0.5008, 0.681,
    3.6568, 5.2451, 5.6174, 4.9551, 2.8209, 1.2706, 1.658, 0.6996, 0.0658, 1.2809, 1.3205,
  ],
};

describe("KaldiFbank", () => {
  it("agrees with kaldi-native-fbank (sherpa-onnx's front end) on a tone, chirp and noise signal", () => {
    // sherpa-onnx does not snip edges: its frame i starts at 160·i − 120, so its frames from 1
    // on are ours on the signal from sample 40 (frame i there is our frame i − 1).
    const ours = new KaldiFbank({ window: "povey", highFreq: -400 }).compute(testSignal().subarray(40));
    for (const [frame, reference] of Object.entries(KALDI_NATIVE_FBANK)) {
      const row = ours.data.subarray((Number(frame) - 1) * 80, Number(frame) * 80);
      // Measured: at most 1.5e-4 over all 28 shared frames before rounding (float32 there, float64 here).
      expect(Math.max(...reference.map((v, b) => Math.abs(v - row[b]!)))).toBeLessThan(3e-4);
    }
  });

  it.each<[KaldiWindow, number]>([
    ["hamming", 0],
    ["povey", 0],
    ["hamming", -400],
  ])("equals a direct-DFT rendering of Kaldi's steps (%s window, high freq %i)", (window, highFreq) => {
    const options = { ...KALDI_DEFAULTS, window, highFreq, sampleScale: 32768 };
    const signal = testSignal();
    const fast = new KaldiFbank(options).compute(signal);
    for (const frame of [0, 7, fast.frames - 1]) {
      const slow = naiveFrame(signal, frame * 160, options);
      const row = fast.data.subarray(frame * 80, (frame + 1) * 80);
      expect(Math.max(...slow.map((v, b) => Math.abs(v - row[b]!)))).toBeLessThan(1e-4);
    }
  });

  it("counts frames as snip_edges does: 1 + ⌊(n − 400) / 160⌋, none below one window", () => {
    const fbank = new KaldiFbank();
    for (const [n, frames] of [
      [0, 0],
      [399, 0],
      [400, 1],
      [559, 1],
      [560, 2],
      [16_000, 98],
      [16_001, 98],
      [160_000, 998],
    ] as const) {
      expect(frameCount(n, 400, 160)).toBe(frames);
      const out = fbank.compute(new Float32Array(n));
      expect([out.frames, out.data.length]).toEqual([frames, frames * 80]);
    }
  });

  it("places frame f over samples 160f … 160f + 399", () => {
    const click = new Float32Array(3000);
    click[1000] = 0.5;
    const { frames, data } = new KaldiFbank({ window: "hamming" }).compute(click);
    const heard = Array.from({ length: frames }, (_, f) => f).filter((f) => data[f * 80 + 40] !== Math.fround(LOG_FLOOR));
    // 160f ≤ 1000 < 160f + 400
    expect(heard).toEqual([4, 5, 6]);
  });

  it("puts silence, and a constant offset (its DC removed), on the ln(FLT_EPSILON) floor", () => {
    expect(LOG_FLOOR).toBeCloseTo(-15.942385, 6);
    for (const signal of [new Float32Array(2000), new Float32Array(2000).fill(0.25)]) {
      const { data } = new KaldiFbank({ sampleScale: 32768 }).compute(signal);
      expect(new Set(data)).toEqual(new Set([Math.fround(LOG_FLOOR)]));
    }
  });

  it.each<KaldiWindow>(["povey", "hamming"])("a tone at a filter's centre excites that filter most (%s window)", (window) => {
    const options = { ...KALDI_DEFAULTS, window };
    const centres = melCentres(options);
    for (const bin of [15, 30, 45, 60, 75]) {
      const { frames, data } = new KaldiFbank(options).compute(tone(centres[bin]!, 4000));
      for (let f = 0; f < frames; f++) expect(argmax(data.subarray(f * 80, (f + 1) * 80))).toBe(bin);
    }
    // The filters span 20 Hz to Nyquist, evenly on the mel scale.
    expect(centres[0]).toBeGreaterThan(20);
    expect(centres[79]).toBeLessThan(8000);
    expect(melScale(centres[40]!) - melScale(centres[39]!)).toBeCloseTo((melScale(8000) - melScale(20)) / 81, 9);
  });

  it("turns a sample scale into an additive 2·ln(scale) on every bin", () => {
    const signal = testSignal();
    const a = new KaldiFbank({ window: "hamming" }).compute(signal).data;
    const b = new KaldiFbank({ window: "hamming", sampleScale: 32768 }).compute(signal).data;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(b[i]! - a[i]! - 2 * Math.log(32768)));
    expect(worst).toBeLessThan(1e-4);
  });

  it("refuses a filterbank it cannot build", () => {
    expect(() => new KaldiFbank({ numMelBins: 2 })).toThrow(RangeError);
    expect(() => new KaldiFbank({ lowFreq: 8000 })).toThrow(/mel range/);
    expect(() => new KaldiFbank({ highFreq: 9000 })).toThrow(/mel range/);
    // 200 filters between 20 Hz and 8 kHz: the lowest are narrower than one 31.25 Hz FFT bin.
    expect(() => new KaldiFbank({ numMelBins: 200 })).toThrow(/covers no FFT bin/);
  });
});

describe("windowFunction", () => {
  it("is Kaldi's symmetric povey (Hann^0.85) and hamming windows", () => {
    const povey = windowFunction("povey", 400);
    const hamming = windowFunction("hamming", 400);
    expect([povey[0], povey[399]]).toEqual([0, 0]);
    expect(hamming[0]).toBeCloseTo(0.08, 12);
    expect(hamming[399]).toBeCloseTo(0.08, 12);
    for (let i = 0; i < 200; i++) {
      expect(povey[i]).toBeCloseTo(povey[399 - i]!, 12);
      expect(hamming[i]).toBeCloseTo(hamming[399 - i]!, 12);
    }
    expect(povey[100]).toBeCloseTo((0.5 - 0.5 * Math.cos((2 * Math.PI * 100) / 399)) ** 0.85, 12);
  });
});

describe("mel scale", () => {
  it("is 1127·ln(1 + f/700), and its inverse", () => {
    expect(melScale(700)).toBeCloseTo(1127 * Math.LN2, 9);
    for (const hz of [20, 440, 1000, 7600]) expect(inverseMelScale(melScale(hz))).toBeCloseTo(hz, 9);
  });
});

describe("subtractMean", () => {
  it("leaves every bin with zero mean over time and keeps the differences between frames", () => {
    const features = new KaldiFbank().compute(testSignal());
    const before = features.data.slice();
    subtractMean(features);
    const { frames, data } = features;
    for (let b = 0; b < 80; b++) {
      let sum = 0;
      for (let f = 0; f < frames; f++) sum += data[f * 80 + b]!;
      expect(Math.abs(sum / frames)).toBeLessThan(1e-5);
      expect(data[3 * 80 + b]! - data[b]!).toBeCloseTo(before[3 * 80 + b]! - before[b]!, 4);
    }
  });
});
