/**
 * Whisper's log-mel keeps 80 dB below the loudest frame of a window, and the model
 * skips speech that sits far below the rest of the window: in a recording that
 * joins a loud speaker and one 40 dB quieter, the quiet one vanishes from the
 * transcript (seen on the long-form test file, where FLEURS clips sit ~40 dB
 * below LibriSpeech), though alone in a window it transcribes well. So, before
 * the features, each stretch of sound far quieter than the loudest in its chunk
 * is brought up towards it. Stretches within `keepWithinDb` of the loudest, the
 * usual case, are left exactly as they are, and the noise floor is never raised.
 */
export interface LevelingOptions {
  /** Stretches at most this far below the loudest stretch are left alone. */
  keepWithinDb: number;
  /** Where a quiet stretch is raised to, below the loudest stretch. */
  targetBelowDb: number;
  maxGainDb: number;
  /** Frames this far above the chunk's noise floor count as sound. */
  aboveFloorDb: number;
}

export const FRAME_SEC = 0.02;

export const DEFAULT_LEVELING: LevelingOptions = { keepWithinDb: 20, targetBelowDb: 6, maxGainDb: 40, aboveFloorDb: 12 };

const FRAME = 320; // 20 ms at 16 kHz
const BRIDGE_FRAMES = 15; // gaps under 300 ms stay inside one stretch
const RAMP = 160; // 10 ms gain ramps, so no clicks at the edges
const SILENT_DB = -90;

function db(x: number): number {
  return x > 0 ? 20 * Math.log10(x) : -Infinity;
}

/** Stretches of sound as [firstFrame, endFrame) of 20 ms frames, with their RMS. */
export function stretches(samples: Float32Array, aboveFloorDb: number): Array<{ from: number; to: number; rms: number }> {
  const frames = Math.floor(samples.length / FRAME);
  const level = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let i = f * FRAME; i < (f + 1) * FRAME; i++) sum += samples[i]! * samples[i]!;
    level[f] = sum / FRAME;
  }
  const sorted = Array.from(level, (p) => db(Math.sqrt(p))).sort((a, b) => a - b);
  const floorDb = Math.max(sorted[Math.floor(sorted.length * 0.05)] ?? SILENT_DB, SILENT_DB);
  const active = Array.from(level, (p) => db(Math.sqrt(p)) >= floorDb + aboveFloorDb);
  const out: Array<{ from: number; to: number; rms: number }> = [];
  let f = 0;
  while (f < frames) {
    if (!active[f]) {
      f++;
      continue;
    }
    const from = f;
    let last = f;
    while (f < frames && (active[f] || f - last <= BRIDGE_FRAMES)) {
      if (active[f]) last = f;
      f++;
    }
    let power = 0;
    for (let k = from; k <= last; k++) power += level[k]!;
    out.push({ from, to: last + 1, rms: Math.sqrt(power / (last + 1 - from)) });
  }
  return out;
}

/** The chunk with quiet stretches raised; the same array when nothing needs it. */
export function levelUtterances(samples: Float32Array, options: LevelingOptions = DEFAULT_LEVELING): Float32Array {
  const found = stretches(samples, options.aboveFloorDb);
  if (found.length < 2) return samples;
  const loudestDb = Math.max(...found.map((s) => db(s.rms)));
  const raise = found
    .map((s) => ({ ...s, gainDb: Math.min(options.maxGainDb, loudestDb - options.targetBelowDb - db(s.rms)) }))
    .filter((s) => db(s.rms) < loudestDb - options.keepWithinDb && s.gainDb > 0);
  if (raise.length === 0) return samples;
  const out = Float32Array.from(samples);
  for (const s of raise) {
    const gain = 10 ** (s.gainDb / 20);
    const start = s.from * FRAME;
    const end = Math.min(samples.length, s.to * FRAME);
    for (let i = start; i < end; i++) {
      const edge = Math.min(i - start, end - 1 - i);
      const g = edge >= RAMP ? gain : 1 + ((gain - 1) * edge) / RAMP;
      out[i] = Math.max(-1, Math.min(1, samples[i]! * g));
    }
  }
  return out;
}
