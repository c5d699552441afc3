/** Test audio at 16 kHz: 300 Hz tone bursts `[fromSec, toSec, amplitude]` over a seeded noise floor. */
export const TONE_RATE = 16_000;

export function toneBursts(totalSec: number, bursts: Array<[number, number, number]>, floor = 0): Float32Array {
  let seed = 3;
  const out = Float32Array.from({ length: totalSec * TONE_RATE }, () => floor * (((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1));
  for (const [from, to, amplitude] of bursts)
    for (let i = from * TONE_RATE; i < to * TONE_RATE; i++) out[i]! += amplitude * Math.sin((2 * Math.PI * 300 * i) / TONE_RATE);
  return out;
}
