/**
 * The test fixture test/fixtures/transformersjs-baseline.json: transformers.js's
 * transcripts and speed on a fixed set of short English clips, with the same
 * quantized weights our engine uses, so the engine tests can hold our WER against
 * it. Not a benchmark (bench/engine.ts is one).
 *
 *   npx tsx bench/transformersjs-baseline.ts [--models tiny,base] [--out test/fixtures/transformersjs-baseline.json]
 *
 * Per model: one pipeline load (timed on its own), a warm-up on 1 s of silence,
 * then every clip transcribed sequentially with greedy decoding on the CPU
 * (2 intra-op threads). Audio is decoded to 16 kHz mono beforehand; decoding is
 * not part of the timings.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { decodeWhole } from "../test/support/media-files.ts";
import { REPO_ROOT, readJsonl, sharedPath } from "../test/support/shared-data.ts";
import { benchArg } from "./results.ts";
import { loadTransformersJs, TRANSFORMERS_DTYPE, transformersVersion, type WhisperSize } from "./transformersjs.ts";

const SETS = ["librispeech-test-clean", "jfk", "ljspeech"] as const;
const THREADS = 2;
const SAMPLE_RATE = 16_000;

const models = benchArg("models", "tiny,base")
  .split(",")
  .map((s) => {
    if (s !== "tiny" && s !== "base") throw new Error(`unknown model size "${s}" (expected tiny, base)`);
    return s as WhisperSize;
  });
const out = resolve(REPO_ROOT, benchArg("out", "test/fixtures/transformersjs-baseline.json"));

interface Clip {
  set: string;
  audio: string;
  reference: string;
  samples: Float32Array;
}

async function loadClips(): Promise<Clip[]> {
  const clips: Clip[] = [];
  for (const set of SETS) {
    const manifest = sharedPath("data", "speech", set, "manifest.jsonl");
    for (const e of readJsonl<{ audio: string; text: string }>(manifest)) {
      const file = join(dirname(manifest), e.audio);
      clips.push({ set, audio: relative(sharedPath("data", "speech"), file), reference: e.text, samples: await decodeWhole(file) });
    }
  }
  return clips;
}

function packageVersion(name: string): string {
  const require = createRequire(join(REPO_ROOT, "node_modules", "@huggingface", "transformers", "package.json"));
  return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")) as { version: string }).version;
}

const clips = await loadClips();
const cpus = os.cpus();
const result = {
  command: ["npx", "tsx", "bench/transformersjs-baseline.ts", ...process.argv.slice(2)].join(" "),
  date: new Date().toISOString(),
  node: process.version,
  transformers_version: transformersVersion(),
  onnxruntime_node_version: packageVersion("onnxruntime-node"),
  cpu: { model: cpus[0]?.model ?? "unknown", count: cpus.length },
  settings: { language: "english", task: "transcribe", decoding: "greedy (pipeline defaults)", chunk_length_s_over_30s: 30, device: "cpu" },
  models: [] as object[],
};
console.log(`${clips.length} clips, ${(clips.reduce((s, c) => s + c.samples.length, 0) / SAMPLE_RATE).toFixed(1)} s of audio`);
for (const size of models) {
  const asr = await loadTransformersJs(size, THREADS);
  const rows = [];
  for (const clip of clips) {
    const t = performance.now();
    const hypothesis = await asr.transcribe(clip.samples);
    rows.push({
      set: clip.set,
      audio: clip.audio,
      reference: clip.reference,
      hypothesis,
      audio_sec: clip.samples.length / SAMPLE_RATE,
      wall_sec: (performance.now() - t) / 1000,
    });
  }
  await asr.dispose();
  const audio_sec = rows.reduce((s, r) => s + r.audio_sec, 0);
  const wall_sec = rows.reduce((s, r) => s + r.wall_sec, 0);
  result.models.push({
    model: asr.model,
    dtype: TRANSFORMERS_DTYPE,
    threads: THREADS,
    onnx_files: asr.onnxFiles,
    load_sec: asr.loadSec,
    audio_sec,
    wall_sec,
    rtf: wall_sec / audio_sec,
    clips: rows,
  });
  console.log(
    `${asr.model}: load ${asr.loadSec.toFixed(2)} s, ${audio_sec.toFixed(1)} s audio in ${wall_sec.toFixed(2)} s, RTF ${(wall_sec / audio_sec).toFixed(3)}`,
  );
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${relative(REPO_ROOT, out)}`);
