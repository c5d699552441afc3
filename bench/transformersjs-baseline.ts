/**
 * Reference transcripts and speed from transformers.js (the general-purpose
 * Whisper implementation) on the same quantized Xenova ONNX weights our engine
 * uses, on a fixed set of short English clips, so tests and benchmarks can
 * compare against it.
 *
 *   npx tsx bench/transformersjs-baseline.ts [--models tiny,base] [--out test/fixtures/transformersjs-baseline.json]
 *
 * Per model: one pipeline load (timed on its own), a warm-up on 1 s of silence,
 * then every clip transcribed sequentially with greedy decoding on the CPU
 * (onnxruntime-node, 2 intra-op threads). Audio is decoded to 16 kHz mono
 * Float32 by ffmpeg beforehand; decoding is not part of the timings.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { env, pipeline } from "@huggingface/transformers";
import type { AutomaticSpeechRecognitionOutput, ProgressInfo } from "@huggingface/transformers";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATA = "/work/shared/data/speech";
const SETS = ["librispeech-test-clean", "jfk", "ljspeech"] as const;
const SIZES = ["tiny", "base"] as const;
type Size = (typeof SIZES)[number];

const DTYPE = "q8";
const THREADS = 2;
const SAMPLE_RATE = 16_000;
const CHUNK_LENGTH_S = 30;

interface ManifestEntry {
  audio: string;
  text: string;
  duration_sec: number;
  language: string;
}

interface Clip {
  set: string;
  audio: string; // relative to DATA, e.g. "jfk/jfk.wav"
  reference: string;
  samples: Float32Array;
}

interface ClipResult {
  set: string;
  audio: string;
  reference: string;
  hypothesis: string;
  audio_sec: number;
  wall_sec: number;
}

interface ModelResult {
  model: string;
  dtype: string;
  threads: number;
  onnx_files: string[];
  load_sec: number;
  audio_sec: number;
  wall_sec: number;
  rtf: number;
  clips: ClipResult[];
}

interface Baseline {
  command: string;
  date: string;
  node: string;
  transformers_version: string;
  onnxruntime_node_version: string;
  cpu: { model: string; count: number };
  settings: { language: string; task: string; decoding: string; chunk_length_s_over_30s: number; device: string };
  models: ModelResult[];
}

/** The call options this script passes (a subset of the package's unexported AutomaticSpeechRecognitionConfig). */
type AsrOptions = {
  language: string;
  task: "transcribe";
  chunk_length_s?: number;
};

/** The slice of the ASR pipeline this script uses; `pipeline()`'s own return type is a large union. */
type Transcriber = ((audio: Float32Array, options: AsrOptions) => Promise<AutomaticSpeechRecognitionOutput>) & {
  dispose(): Promise<void>;
};

function parseArgs(argv: readonly string[]): { models: Size[]; out: string } {
  let models: Size[] = [...SIZES];
  let out = "test/fixtures/transformersjs-baseline.json";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--models") {
      models = value()
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
        .map((s) => {
          if (!(SIZES as readonly string[]).includes(s)) throw new Error(`unknown model size "${s}" (expected ${SIZES.join(", ")})`);
          return s as Size;
        });
    } else if (a === "--out") {
      out = value();
    } else {
      throw new Error(`unknown argument "${a}"; usage: bench/transformersjs-baseline.ts [--models tiny,base] [--out FILE]`);
    }
  }
  return { models, out };
}

function decode(file: string): Promise<Float32Array> {
  return new Promise((ok, fail) => {
    const ff = spawn("ffmpeg", ["-v", "error", "-i", file, "-ac", "1", "-ar", String(SAMPLE_RATE), "-f", "f32le", "-"], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    ff.stdout.on("data", (b: Buffer) => out.push(b));
    ff.stderr.on("data", (b: Buffer) => (err += b.toString()));
    ff.on("error", fail);
    ff.on("close", (code) => {
      if (code !== 0) return fail(new Error(`ffmpeg exited ${code} on ${file}: ${err.trim()}`));
      const buf = Buffer.concat(out);
      // Copy into a fresh, aligned buffer (Buffer.concat may return a slice of a shared pool).
      const samples = new Float32Array(buf.length / 4);
      new Uint8Array(samples.buffer).set(buf.subarray(0, samples.length * 4));
      ok(samples);
    });
  });
}

async function loadClips(): Promise<Clip[]> {
  const clips: Clip[] = [];
  for (const set of SETS) {
    const manifest = join(DATA, set, "manifest.jsonl");
    const lines = readFileSync(manifest, "utf8").split("\n").filter((l) => l.trim() !== "");
    for (const line of lines) {
      const e = JSON.parse(line) as ManifestEntry;
      const file = join(dirname(manifest), e.audio);
      clips.push({ set, audio: relative(DATA, file), reference: e.text, samples: await decode(file) });
    }
  }
  return clips;
}

function packageVersion(name: string, from: string): string {
  const require = createRequire(from);
  // Walk up from the package's entry point to its package.json (exports maps may hide ./package.json).
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {
      // no package.json here; keep walking
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json found for ${name}`);
    dir = up;
  }
}

async function runModel(size: Size, clips: readonly Clip[]): Promise<ModelResult> {
  const model = `Xenova/whisper-${size}`;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = join(ROOT, "node_modules", `sts-whisper-${size}`, "models") + "/";

  const files = new Set<string>();
  const t0 = performance.now();
  const asr: Transcriber = await pipeline("automatic-speech-recognition", model, {
    dtype: DTYPE,
    device: "cpu",
    session_options: { intraOpNumThreads: THREADS, interOpNumThreads: 1 },
    progress_callback: (p: ProgressInfo) => {
      if (p.status === "done" && p.file.endsWith(".onnx")) files.add(p.file);
    },
  });
  const load_sec = (performance.now() - t0) / 1000;
  const onnx_files = [...files].sort();
  if (onnx_files.length === 0 || !onnx_files.every((f) => f.endsWith("_quantized.onnx"))) {
    throw new Error(`${model}: expected only *_quantized.onnx files, loaded [${onnx_files.join(", ")}]`);
  }

  const options = (samples: Float32Array): AsrOptions => ({
    language: "english",
    task: "transcribe",
    ...(samples.length / SAMPLE_RATE > 30 ? { chunk_length_s: CHUNK_LENGTH_S } : {}),
  });

  const silence = new Float32Array(SAMPLE_RATE);
  await asr(silence, options(silence));

  const results: ClipResult[] = [];
  for (const clip of clips) {
    const t = performance.now();
    const out = await asr(clip.samples, options(clip.samples));
    const wall_sec = (performance.now() - t) / 1000;
    results.push({
      set: clip.set,
      audio: clip.audio,
      reference: clip.reference,
      hypothesis: out.text.trim(),
      audio_sec: clip.samples.length / SAMPLE_RATE,
      wall_sec,
    });
  }
  await asr.dispose();

  const audio_sec = results.reduce((s, r) => s + r.audio_sec, 0);
  const wall_sec = results.reduce((s, r) => s + r.wall_sec, 0);
  return { model, dtype: DTYPE, threads: THREADS, onnx_files, load_sec, audio_sec, wall_sec, rtf: wall_sec / audio_sec, clips: results };
}

const args = parseArgs(process.argv.slice(2));
const clips = await loadClips();
const transformersEntry = createRequire(import.meta.url).resolve("@huggingface/transformers");
const cpus = os.cpus();
const baseline: Baseline = {
  command: ["npx", "tsx", relative(ROOT, fileURLToPath(import.meta.url)), ...process.argv.slice(2)].join(" "),
  date: new Date().toISOString(),
  node: process.version,
  transformers_version: env.version,
  onnxruntime_node_version: packageVersion("onnxruntime-node", transformersEntry),
  cpu: { model: cpus[0]?.model ?? "unknown", count: cpus.length },
  settings: { language: "english", task: "transcribe", decoding: "greedy (pipeline defaults)", chunk_length_s_over_30s: CHUNK_LENGTH_S, device: "cpu" },
  models: [],
};
console.log(`${clips.length} clips, ${(clips.reduce((s, c) => s + c.samples.length, 0) / SAMPLE_RATE).toFixed(1)} s of audio`);
for (const size of args.models) {
  const r = await runModel(size, clips);
  baseline.models.push(r);
  console.log(
    `${r.model} ${r.dtype} threads=${r.threads}: load ${r.load_sec.toFixed(2)} s, ${r.audio_sec.toFixed(1)} s audio in ${r.wall_sec.toFixed(2)} s, RTF ${r.rtf.toFixed(3)}`,
  );
}
const outPath = resolve(ROOT, args.out);
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, JSON.stringify(baseline, null, 2) + "\n");
console.log(`wrote ${relative(ROOT, outPath)}`);
