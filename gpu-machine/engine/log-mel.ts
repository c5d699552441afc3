import FFT from "fft.js";

/** Whisper's front end: 25 ms windows every 10 ms over a 30 s window of 16 kHz audio. */
export const N_FFT = 400;
export const HOP = 160;
export const WINDOW_SAMPLES = 480_000;
export const WINDOW_FRAMES = WINDOW_SAMPLES / HOP;
const N_BINS = N_FFT / 2 + 1;

// Slaney's mel scale as librosa computes it (htk = false): linear below 1 kHz, log above.
const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOG_STEP = Math.log(6.4) / 27;

function hzToMel(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP : hz / F_SP;
}

function melToHz(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

/** One filter's non-zero weights and the first FFT bin they apply to. */
export interface MelFilter {
  firstBin: number;
  weights: Float32Array;
}

/**
 * librosa.filters.mel(sr=16000, n_fft=400, n_mels, norm="slaney"), which is what
 * openai/whisper ships as mel_filters.npz. Computed rather than shipped so that any
 * export (80 or 128 bins) works from its config alone.
 */
export function melFilters(nMels: number, sampleRate = 16_000): MelFilter[] {
  const maxMel = hzToMel(sampleRate / 2);
  const melHz = Array.from({ length: nMels + 2 }, (_, i) => melToHz((maxMel * i) / (nMels + 1)));
  const binHz = Array.from({ length: N_BINS }, (_, k) => (k * sampleRate) / N_FFT);
  return Array.from({ length: nMels }, (_, m) => {
    const [lo, mid, hi] = [melHz[m]!, melHz[m + 1]!, melHz[m + 2]!];
    const norm = 2 / (hi - lo);
    const row = binHz.map((f) => Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid))) * norm);
    const first = row.findIndex((w) => w > 0);
    const last = row.length - 1 - [...row].reverse().findIndex((w) => w > 0);
    return first < 0 ? { firstBin: 0, weights: new Float32Array(0) } : { firstBin: first, weights: Float32Array.from(row.slice(first, last + 1)) };
  });
}

/**
 * A 400-point DFT through a power-of-two FFT (Bluestein's chirp-z), because the
 * registry's fast FFTs only do powers of two and Whisper's window is 400 samples.
 */
class Dft400 {
  private readonly size = 1024;
  private readonly fft = new FFT(this.size);
  private readonly chirpRe = new Float64Array(N_FFT);
  private readonly chirpIm = new Float64Array(N_FFT);
  private readonly kernel: number[];
  private readonly a: number[];
  private readonly spectrum: number[];
  private readonly conv: number[];

  constructor() {
    const kernelTime = this.fft.createComplexArray() as number[];
    for (let n = 0; n < N_FFT; n++) {
      // n² mod 2N keeps the angle small, so the chirp stays exact in float64.
      const angle = (Math.PI * ((n * n) % (2 * N_FFT))) / N_FFT;
      this.chirpRe[n] = Math.cos(angle);
      this.chirpIm[n] = -Math.sin(angle);
      kernelTime[2 * n] = Math.cos(angle);
      kernelTime[2 * n + 1] = Math.sin(angle);
      if (n > 0) {
        kernelTime[2 * (this.size - n)] = Math.cos(angle);
        kernelTime[2 * (this.size - n) + 1] = Math.sin(angle);
      }
    }
    this.kernel = this.fft.createComplexArray() as number[];
    this.fft.transform(this.kernel, kernelTime);
    this.a = this.fft.createComplexArray() as number[];
    this.spectrum = this.fft.createComplexArray() as number[];
    this.conv = this.fft.createComplexArray() as number[];
  }

  /** DFT of re + i·im (length 400 each) into outRe/outIm (length 400). */
  transform(re: Float64Array, im: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    const { a, spectrum, conv, kernel, chirpRe, chirpIm } = this;
    a.fill(0);
    for (let n = 0; n < N_FFT; n++) {
      a[2 * n] = re[n]! * chirpRe[n]! - im[n]! * chirpIm[n]!;
      a[2 * n + 1] = re[n]! * chirpIm[n]! + im[n]! * chirpRe[n]!;
    }
    this.fft.transform(spectrum, a);
    for (let k = 0; k < this.size; k++) {
      const [sr, si, kr, ki] = [spectrum[2 * k]!, spectrum[2 * k + 1]!, kernel[2 * k]!, kernel[2 * k + 1]!];
      spectrum[2 * k] = sr * kr - si * ki;
      spectrum[2 * k + 1] = sr * ki + si * kr;
    }
    this.fft.inverseTransform(conv, spectrum);
    for (let k = 0; k < N_FFT; k++) {
      const [cr, ci] = [conv[2 * k]!, conv[2 * k + 1]!];
      outRe[k] = cr * chirpRe[k]! - ci * chirpIm[k]!;
      outIm[k] = cr * chirpIm[k]! + ci * chirpRe[k]!;
    }
  }
}

/** Computes log-mel features; one per thread of work, since it keeps scratch buffers. */
export class LogMel {
  private readonly filters: MelFilter[];
  private readonly dft = new Dft400();
  private readonly window = Float64Array.from({ length: N_FFT }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N_FFT));

  constructor(readonly nMels: number) {
    this.filters = melFilters(nMels);
  }

  /**
   * openai/whisper's log_mel_spectrogram of the audio padded or trimmed to 30 s:
   * row-major [nMels, 3000], ready for the encoder.
   */
  compute(samples: Float32Array): Float32Array {
    const padded = new Float32Array(WINDOW_SAMPLES + N_FFT);
    const half = N_FFT / 2;
    const audio = new Float32Array(WINDOW_SAMPLES);
    audio.set(samples.subarray(0, WINDOW_SAMPLES));
    padded.set(audio, half);
    // Centre padding by reflection, as torch.stft(center=True) does.
    for (let i = 1; i <= half; i++) {
      padded[half - i] = audio[i]!;
      padded[half + WINDOW_SAMPLES - 1 + i] = audio[WINDOW_SAMPLES - 1 - i]!;
    }
    const power = new Float64Array(WINDOW_FRAMES * N_BINS);
    const [re, im, outRe, outIm] = [0, 0, 0, 0].map(() => new Float64Array(N_FFT)) as [Float64Array, Float64Array, Float64Array, Float64Array];
    // Two real frames ride in one complex transform and are separated by symmetry.
    for (let f = 0; f < WINDOW_FRAMES; f += 2) {
      const g = f + 1;
      for (let n = 0; n < N_FFT; n++) {
        re[n] = padded[f * HOP + n]! * this.window[n]!;
        im[n] = g < WINDOW_FRAMES ? padded[g * HOP + n]! * this.window[n]! : 0;
      }
      this.dft.transform(re, im, outRe, outIm);
      for (let k = 0; k < N_BINS; k++) {
        const j = (N_FFT - k) % N_FFT;
        const [xr, xi, yr, yi] = [outRe[k]!, outIm[k]!, outRe[j]!, -outIm[j]!];
        const [aRe, aIm] = [(xr + yr) / 2, (xi + yi) / 2];
        const [bRe, bIm] = [(xi - yi) / 2, -(xr - yr) / 2];
        power[f * N_BINS + k] = aRe * aRe + aIm * aIm;
        if (g < WINDOW_FRAMES) power[g * N_BINS + k] = bRe * bRe + bIm * bIm;
      }
    }
    const out = new Float32Array(this.nMels * WINDOW_FRAMES);
    let max = -Infinity;
    for (let m = 0; m < this.nMels; m++) {
      const { firstBin, weights } = this.filters[m]!;
      for (let f = 0; f < WINDOW_FRAMES; f++) {
        let sum = 0;
        const base = f * N_BINS + firstBin;
        for (let k = 0; k < weights.length; k++) sum += weights[k]! * power[base + k]!;
        const v = Math.log10(Math.max(sum, 1e-10));
        out[m * WINDOW_FRAMES + f] = v;
        if (v > max) max = v;
      }
    }
    const floor = max - 8;
    for (let i = 0; i < out.length; i++) out[i] = (Math.max(out[i]!, floor) + 4) / 4;
    return out;
  }
}
