/**
 * The mean log pitch of a voice: what cepstral means cannot see (a 40-band
 * filterbank smooths the harmonics away), and the cue people use first to
 * tell two speakers apart. A normalised autocorrelation on the audio
 * decimated to 4 kHz, one 40 ms frame every 30 ms, pitch 50–500 Hz; frames
 * whose best correlation is under 0.7 are unvoiced and not counted, and the
 * period is the shortest lag within 10 % of the best (not a multiple of it).
 */
const DECIMATE = 4;
const RATE = 16_000 / DECIMATE;
const FRAME = 160;
const HOP = 120;
const MIN_LAG = Math.floor(RATE / 500);
const MAX_LAG = Math.ceil(RATE / 50);
const VOICED = 0.7;
const NEAR_BEST = 0.9;

export interface PitchStats {
  /** Mean natural log of F0 in Hz over voiced frames; NaN when none is voiced. */
  meanLogF0: number;
  voicedFrames: number;
}

export function pitchStats(audio: Float32Array): PitchStats {
  const n = Math.floor(audio.length / DECIMATE);
  // Averaging four samples is a crude low-pass, enough below 1 kHz where F0 lives.
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * DECIMATE;
    x[i] = (audio[at]! + audio[at + 1]! + audio[at + 2]! + audio[at + 3]!) / DECIMATE;
  }
  // Energy of any stretch from one prefix sum of squares.
  const energy = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) energy[i + 1] = energy[i]! + x[i]! * x[i]!;
  const correlation = new Float64Array(MAX_LAG + 2);
  let sum = 0;
  let voiced = 0;
  for (let start = 0; start + FRAME + MAX_LAG <= n; start += HOP) {
    const e0 = energy[start + FRAME]! - energy[start]!;
    if (e0 < 1e-8) continue;
    let best = 0;
    for (let lag = MIN_LAG; lag <= MAX_LAG; lag++) {
      let c = 0;
      for (let i = start; i < start + FRAME; i++) c += x[i]! * x[i + lag]!;
      const e1 = energy[start + lag + FRAME]! - energy[start + lag]!;
      const r = c > 0 ? c / Math.sqrt(e0 * e1) : 0;
      correlation[lag] = r;
      best = Math.max(best, r);
    }
    if (best < VOICED) continue;
    // Two, three periods correlate as well as one: the shortest lag that peaks near the best is the period.
    let lag = MIN_LAG;
    while (
      lag < MAX_LAG &&
      !(correlation[lag]! >= NEAR_BEST * best && correlation[lag]! >= correlation[lag + 1]! && correlation[lag]! >= correlation[lag - 1]!)
    )
      lag++;
    // The peak between whole lags, from the parabola through three (4 kHz steps are 2 % at 230 Hz).
    const [a, b, c] = [correlation[lag - 1]!, correlation[lag]!, correlation[lag + 1]!];
    const bend = a - 2 * b + c;
    const period = lag + (bend < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / bend)) : 0);
    sum += Math.log(RATE / period);
    voiced++;
  }
  return { meanLogF0: voiced > 0 ? sum / voiced : Number.NaN, voicedFrames: voiced };
}
