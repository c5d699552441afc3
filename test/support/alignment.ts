/**
 * The lag (in samples) at which `test` best matches `ref`: test[i] ≈ ref[i + lag].
 * Normalised cross-correlation over the first `span` samples; used to measure how
 * far a seek landed from where a full decode says that time is.
 */
export function bestLag(ref: Float32Array, test: Float32Array, maxLag: number, span = 48_000): { lag: number; correlation: number } {
  let best = { lag: 0, correlation: -Infinity };
  const n = Math.min(span, test.length);
  let tt = 0;
  for (let i = 0; i < n; i++) tt += test[i]! * test[i]!;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let dot = 0;
    let rr = 0;
    for (let i = 0; i < n; i++) {
      const r = ref[i + lag] ?? 0;
      dot += r * test[i]!;
      rr += r * r;
    }
    const c = dot / Math.sqrt(rr * tt || 1);
    if (c > best.correlation) best = { lag, correlation: c };
  }
  return best;
}
