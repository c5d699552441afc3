/**
 * Where to cut audio so no word is split: the middle of the quietest stretch.
 *
 * Energy is the mean square over a sliding window (200 ms by default, long enough
 * that the brief dip inside a word, a stop consonant's closure, does not win over a
 * real pause), evaluated every 10 ms from a prefix sum so a 30 s buffer costs O(n).
 * Every window within a hair of the minimum counts as "quietest"; of those runs the
 * longest wins (a sentence pause over a breath), ties going to the run nearest
 * `prefer`, and the cut is the run's middle. Deterministic: same samples, same cut.
 */
export interface QuietOptions {
  windowSamples?: number;
  hopSamples?: number;
  /** Sample index to lean towards when quiet stretches tie (a nominal boundary). */
  prefer?: number;
  /** Windows to avoid if any others qualify (speech found by VAD). */
  avoid?: (start: number, end: number) => boolean;
}

export function quietestPoint(samples: Float32Array, from: number, to: number, options: QuietOptions = {}): number {
  const lo = Math.max(0, Math.min(from, samples.length));
  const hi = Math.max(lo, Math.min(to, samples.length));
  const win = Math.max(1, Math.min(options.windowSamples ?? 3200, hi - lo));
  const hop = Math.max(1, options.hopSamples ?? 160);
  if (hi - lo <= win) return Math.round((lo + hi) / 2);

  const prefix = new Float64Array(hi - lo + 1);
  for (let i = lo; i < hi; i++) prefix[i - lo + 1] = prefix[i - lo]! + samples[i]! * samples[i]!;

  const starts: number[] = [];
  for (let s = lo; s + win <= hi; s += hop) starts.push(s);
  const energy = starts.map((s) => prefix[s - lo + win]! - prefix[s - lo]!);
  const allowed = starts.map((s) => !options.avoid?.(s, s + win));
  const pool = allowed.some(Boolean) ? allowed : starts.map(() => true);

  let min = Infinity;
  for (let i = 0; i < starts.length; i++) if (pool[i] && energy[i]! < min) min = energy[i]!;
  // "A hair": 5% above the minimum, plus a floor so digital silence with dither ties.
  const limit = min * 1.05 + win * 1e-10;

  const prefer = options.prefer ?? (lo + hi) / 2;
  let best: { length: number; mid: number; distance: number } | null = null;
  for (let i = 0; i < starts.length; ) {
    if (!(pool[i] && energy[i]! <= limit)) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < starts.length && pool[j + 1] && energy[j + 1]! <= limit) j++;
    const mid = Math.round((starts[i]! + starts[j]! + win) / 2);
    const cand = { length: j - i + 1, mid, distance: Math.abs(mid - prefer) };
    if (!best || cand.length > best.length || (cand.length === best.length && cand.distance < best.distance)) best = cand;
    i = j + 1;
  }
  return best!.mid;
}

/** Root-mean-square level of a run of samples. */
export function rms(samples: Float32Array, start = 0, end = samples.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += samples[i]! * samples[i]!;
  return end > start ? Math.sqrt(sum / (end - start)) : 0;
}
