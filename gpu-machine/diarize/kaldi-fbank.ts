/**
 * Kaldi's log mel filterbank (compute-fbank-feats; torchaudio.compliance.kaldi.fbank
 * ports it line for line), the front end WeSpeaker and 3D-Speaker models are
 * trained on. Per 25 ms frame every 10 ms, with snip_edges (frames lie wholly
 * inside the audio, the first one starting at sample 0):
 *
 *   samples × scale → remove the frame's DC → pre-emphasis 0.97 (x[0] against itself)
 *   → window (povey = Hann^0.85, or hamming) → zero-pad to 512 → |FFT|²
 *   → triangular filters evenly spaced on 1127·ln(1 + f/700) between low and high
 *     (unnormalised, the Nyquist bin unused) → ln(max(energy, FLT_EPSILON))
 *
 * No dither (embedding extraction runs without it). Plain TS rather than an
 * ONNX graph as engine/log-mel.ts does for Whisper: a speaker's few seconds
 * cost milliseconds here, and the embedding model after it costs far more.
 */

export type KaldiWindow = "povey" | "hamming";

export interface FbankOptions {
  numMelBins: number;
  window: KaldiWindow;
  /** Multiplies each sample first: 32768 gives the int16 range that WeSpeaker models were trained on. */
  sampleScale: number;
  sampleRate: number;
  lowFreq: number;
  /** Kaldi's meaning: 0 is Nyquist, a negative value is that far below it. */
  highFreq: number;
}

/** Kaldi's defaults (compute-fbank-feats), 80 bins: 3D-Speaker's front end as it stands. */
export const KALDI_DEFAULTS: FbankOptions = { numMelBins: 80, window: "povey", sampleScale: 1, sampleRate: 16_000, lowFreq: 20, highFreq: 0 };

const FRAME_LENGTH_MS = 25;
const FRAME_SHIFT_MS = 10;
const PREEMPHASIS = 0.97;
/** torch.finfo(torch.float32).eps, Kaldi's floor before the log: silence reads ln(ε) ≈ −15.94. */
const FLT_EPSILON = 2 ** -23;
export const LOG_FLOOR = Math.log(FLT_EPSILON);

/** Log mel energies, frame by frame: `data[frame * bins + bin]`. */
export interface Fbank {
  frames: number;
  bins: number;
  data: Float32Array;
}

/** Frames that fit wholly in `samples` (snip_edges): 1 + ⌊(n − length) / shift⌋, none when shorter than one. */
export function frameCount(samples: number, frameLength: number, frameShift: number): number {
  return samples < frameLength ? 0 : 1 + Math.floor((samples - frameLength) / frameShift);
}

export function melScale(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}

export function inverseMelScale(mel: number): number {
  return 700 * (Math.exp(mel / 1127) - 1);
}

/** Kaldi's FeatureWindowFunction, symmetric over `length` samples. */
export function windowFunction(window: KaldiWindow, length: number): Float64Array {
  const a = (2 * Math.PI) / (length - 1);
  return Float64Array.from({ length }, (_, n) => {
    switch (window) {
      case "povey":
        return (0.5 - 0.5 * Math.cos(a * n)) ** 0.85;
      case "hamming":
        return 0.54 - 0.46 * Math.cos(a * n);
      default:
        return window satisfies never;
    }
  });
}

/** The filters' centres in Hz, bin by bin: where a pure tone excites one filter alone. */
export function melCentres(options: FbankOptions): number[] {
  const { low, delta } = melRange(options);
  return Array.from({ length: options.numMelBins }, (_, b) => inverseMelScale(low + (b + 1) * delta));
}

function melRange(o: FbankOptions): { low: number; delta: number } {
  const nyquist = o.sampleRate / 2;
  const high = o.highFreq > 0 ? o.highFreq : nyquist + o.highFreq;
  if (!(o.lowFreq >= 0 && o.lowFreq < high && high <= nyquist)) {
    throw new RangeError(`mel range ${o.lowFreq}–${high} Hz does not fit inside 0–${nyquist} Hz`);
  }
  const low = melScale(o.lowFreq);
  return { low, delta: (melScale(high) - low) / (o.numMelBins + 1) };
}

interface Filter {
  firstBin: number;
  weights: Float64Array;
}

export class KaldiFbank {
  readonly options: FbankOptions;
  readonly frameLength: number;
  readonly frameShift: number;
  private readonly fftSize: number;
  private readonly window: Float64Array;
  private readonly filters: Filter[];
  private readonly fft: RealPowerSpectrum;

  constructor(options: Partial<FbankOptions> = {}) {
    this.options = { ...KALDI_DEFAULTS, ...options };
    const o = this.options;
    if (!(Number.isInteger(o.numMelBins) && o.numMelBins >= 3)) throw new RangeError(`numMelBins must be an integer ≥ 3, got ${o.numMelBins}`);
    this.frameLength = Math.round((o.sampleRate * FRAME_LENGTH_MS) / 1000);
    this.frameShift = Math.round((o.sampleRate * FRAME_SHIFT_MS) / 1000);
    this.fftSize = 2 ** Math.ceil(Math.log2(this.frameLength));
    this.window = windowFunction(o.window, this.frameLength);
    this.filters = this.melFilters();
    this.fft = new RealPowerSpectrum(this.fftSize);
  }

  /** Kaldi's MelBanks: triangles on the mel scale over FFT bins 0 … N/2 − 1. */
  private melFilters(): Filter[] {
    const o = this.options;
    const { low, delta } = melRange(o);
    const binMel = Array.from({ length: this.fftSize / 2 }, (_, k) => melScale((k * o.sampleRate) / this.fftSize));
    return Array.from({ length: o.numMelBins }, (_, b) => {
      const [left, centre, right] = [low + b * delta, low + (b + 1) * delta, low + (b + 2) * delta];
      const row = binMel.map((m) => (m <= left || m >= right ? 0 : m <= centre ? (m - left) / (centre - left) : (right - m) / (right - centre)));
      const first = row.findIndex((w) => w > 0);
      if (first < 0) throw new RangeError(`mel bin ${b} covers no FFT bin: too many bins (${o.numMelBins}) for a ${this.fftSize}-point FFT`);
      let last = row.length - 1;
      while (row[last] === 0) last--;
      return { firstBin: first, weights: Float64Array.from(row.slice(first, last + 1)) };
    });
  }

  compute(samples: Float32Array): Fbank {
    const { numMelBins: bins, sampleScale } = this.options;
    const frames = frameCount(samples.length, this.frameLength, this.frameShift);
    const data = new Float32Array(frames * bins);
    const frame = new Float64Array(this.fftSize);
    const len = this.frameLength;
    for (let f = 0; f < frames; f++) {
      const start = f * this.frameShift;
      let sum = 0;
      for (let i = 0; i < len; i++) {
        const x = samples[start + i]! * sampleScale;
        frame[i] = x;
        sum += x;
      }
      const mean = sum / len;
      for (let i = 0; i < len; i++) frame[i]! -= mean;
      for (let i = len - 1; i > 0; i--) frame[i]! -= PREEMPHASIS * frame[i - 1]!;
      frame[0]! -= PREEMPHASIS * frame[0]!;
      for (let i = 0; i < len; i++) frame[i]! *= this.window[i]!;
      frame.fill(0, len);
      const power = this.fft.power(frame);
      for (let b = 0; b < bins; b++) {
        const { firstBin, weights } = this.filters[b]!;
        let energy = 0;
        for (let k = 0; k < weights.length; k++) energy += weights[k]! * power[firstBin + k]!;
        data[f * bins + b] = energy > FLT_EPSILON ? Math.log(energy) : LOG_FLOOR;
      }
    }
    return { frames, bins, data };
  }
}

/** Cepstral mean normalisation: each bin's mean over the frames subtracted, in place. */
export function subtractMean(features: Fbank): Fbank {
  const { frames, bins, data } = features;
  if (frames === 0) return features;
  const mean = new Float64Array(bins);
  for (let f = 0; f < frames; f++) for (let b = 0; b < bins; b++) mean[b]! += data[f * bins + b]!;
  for (let b = 0; b < bins; b++) mean[b]! /= frames;
  for (let f = 0; f < frames; f++) for (let b = 0; b < bins; b++) data[f * bins + b]! -= mean[b]!;
  return features;
}

/** |X[k]|² for k = 0 … N/2 of a real frame, by an iterative radix-2 FFT (N a power of two). */
class RealPowerSpectrum {
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly out: Float64Array;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly reversed: Uint32Array;

  constructor(private readonly n: number) {
    this.re = new Float64Array(n);
    this.im = new Float64Array(n);
    this.out = new Float64Array(n / 2 + 1);
    this.cos = Float64Array.from({ length: n / 2 }, (_, k) => Math.cos((2 * Math.PI * k) / n));
    this.sin = Float64Array.from({ length: n / 2 }, (_, k) => -Math.sin((2 * Math.PI * k) / n));
    const bits = Math.log2(n);
    this.reversed = Uint32Array.from({ length: n }, (_, i) => {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      return r;
    });
  }

  power(frame: Float64Array): Float64Array {
    const { n, re, im } = this;
    for (let i = 0; i < n; i++) re[this.reversed[i]!] = frame[i]!;
    im.fill(0);
    for (let size = 2; size <= n; size *= 2) {
      const half = size / 2;
      const step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let j = 0; j < half; j++) {
          const wr = this.cos[j * step]!;
          const wi = this.sin[j * step]!;
          const a = start + j;
          const b = a + half;
          const tr = re[b]! * wr - im[b]! * wi;
          const ti = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - tr;
          im[b] = im[a]! - ti;
          re[a]! += tr;
          im[a]! += ti;
        }
      }
    }
    for (let k = 0; k <= n / 2; k++) this.out[k] = re[k]! * re[k]! + im[k]! * im[k]!;
    return this.out;
  }
}
