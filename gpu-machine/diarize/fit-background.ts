import { execFileSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { decodeWhole } from "../../test/support/media-files.ts";
import { sharedPath } from "../../test/support/shared-data.ts";
import { type Background, CEPSTRA, embedStats, LogmelStatsEmbedder } from "./logmel-stats-embedder.ts";
import { pitchStats } from "./pitch.ts";
import { cosineSimilarity } from "./speaker-embedder.ts";

/**
 * `npx tsx gpu-machine/diarize/fit-background.ts`: rewrites logmel-background.ts,
 * the population that logmel-stats standardises each cepstral mean against.
 *
 * The population is the team's non-English speech (FLEURS de/es/fr/pt/ja/zh,
 * Picovoice's samples, two LibriVox openings): other voices, other
 * microphones, and none of the English voices that bench/diarization.ts builds
 * its conversations from, so the benchmark does not score voices the
 * normalisation has seen. Each recording gives pieces of 2 and 4 s, the
 * lengths the range diarizer compares, so the deviations are those of short
 * stretches of speech. The pitch's weight is the one (of a few) under which
 * pieces of one recording are told from pieces of others best (equal error rate).
 */
const SETS = ["fleurs-multilingual", "picovoice-multilingual", "librivox-multilingual"];
const PIECE_SEC = [2, 4];
const PIECES_PER_LENGTH = 12;
const F0_WEIGHTS = [0, 1, 1.5, 2, 2.5, 3, 4];
const SAMPLE_RATE = 16_000;
const OUT = fileURLToPath(new URL("./logmel-background.ts", import.meta.url));

const embedder = new LogmelStatsEmbedder({ mean: new Array(CEPSTRA).fill(0), std: new Array(CEPSTRA).fill(1), f0Mean: 0, f0Std: 1, f0Weight: 0 });
const rows: { recording: string; cepstra: Float64Array; logF0: number }[] = [];
let recordings = 0;
for (const set of SETS) {
  const dir = sharedPath("data", "speech", set);
  for (const file of readdirSync(dir).filter((f) => /\.(ogg|flac|mp3|wav)$/.test(f))) {
    const audio = await decodeWhole(`${dir}/${file}`);
    recordings++;
    for (const sec of PIECE_SEC) {
      const size = sec * SAMPLE_RATE;
      for (let i = 0; i < PIECES_PER_LENGTH && (i + 1) * size <= audio.length; i++) {
        const piece = audio.subarray(i * size, (i + 1) * size);
        rows.push({ recording: file, cepstra: await embedder.cepstralMeans(piece), logF0: pitchStats(piece).meanLogF0 });
      }
    }
  }
}
const meanOf = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const stdOf = (xs: number[]) => Math.sqrt(meanOf(xs.map((x) => (x - meanOf(xs)) ** 2)));
const mean = Array.from({ length: CEPSTRA }, (_, k) => meanOf(rows.map((r) => r.cepstra[k]!)));
const std = Array.from({ length: CEPSTRA }, (_, k) => stdOf(rows.map((r) => r.cepstra[k]!)));
const voiced = rows.map((r) => r.logF0).filter((f) => !Number.isNaN(f));
const base: Background = { mean, std, f0Mean: meanOf(voiced), f0Std: stdOf(voiced), f0Weight: 0 };

function equalErrorRate(same: number[], different: number[]): number {
  const all = [...same.map((s) => [s, 1] as const), ...different.map((s) => [s, 0] as const)].sort((a, b) => b[0] - a[0]);
  let [accepted, falseAccepts, best] = [0, 0, 1];
  for (const [, isSame] of all) {
    if (isSame) accepted++;
    else falseAccepts++;
    best = Math.min(best, Math.max(1 - accepted / same.length, falseAccepts / different.length));
  }
  return best;
}
const errors = F0_WEIGHTS.map((f0Weight) => {
  const vectors = rows.map((r) => embedStats(r.cepstra, r.logF0, { ...base, f0Weight }));
  const same: number[] = [];
  const different: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) (rows[i]!.recording === rows[j]!.recording ? same : different).push(cosineSimilarity(vectors[i]!, vectors[j]!));
  }
  return { f0Weight, eer: equalErrorRate(same, different) };
});
const chosen = errors.reduce((a, b) => (b.eer < a.eer ? b : a));
const fmt = (xs: number[]) => xs.map((x) => Number(x.toPrecision(6))).join(", ");
writeFileSync(
  OUT,
  `// Written by \`npx tsx gpu-machine/diarize/fit-background.ts\` (${rows.length} pieces of ${PIECE_SEC.join(" and ")} s from ${recordings} recordings: ${SETS.join(", ")}); do not edit by hand.
// Equal error rate between pieces of one recording and of others, by pitch weight: ${errors.map((e) => `${e.f0Weight}: ${(100 * e.eer).toFixed(1)} %`).join(", ")}.
import type { Background } from "./logmel-stats-embedder.ts";

export const LOGMEL_BACKGROUND: Background = {
  mean: [${fmt(mean)}],
  std: [${fmt(std)}],
  f0Mean: ${Number(base.f0Mean.toPrecision(6))},
  f0Std: ${Number(base.f0Std.toPrecision(6))},
  f0Weight: ${chosen.f0Weight},
};
`,
);
execFileSync("npx", ["biome", "format", "--write", OUT]);
console.log(`${OUT}: ${rows.length} pieces from ${recordings} recordings`);
