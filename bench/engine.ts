import { packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import { wordErrorRate } from "../gpu-machine/eval/wer.ts";
import { loadSpeechDetector } from "../gpu-machine/media/speech-detector.ts";
import { sharedPath } from "../test/support/shared-data.ts";
import { excerpt, loadWarmEngine, transcribeInMemory } from "./in-memory.ts";
import { benchArg, benchMeta, writeResult } from "./results.ts";
import { loadTransformersJs, transformersVersion, type WhisperSize } from "./transformersjs.ts";

/**
 * Measure 1: this engine against transformers.js, side by side in one process,
 * on the same long recording already decoded in memory, the same quantized ONNX
 * weights (the npm-packaged Xenova exports), the same onnxruntime-node and the
 * same threads. Each gets the whole recording and does its own long-form work:
 * transformers.js its 30 s windows with 5 s stride, one at a time; ours micro
 * chunks cut at quiet points (Silero VAD) and decoded in batches. Decoding the
 * file is not timed; loading and a warm-up happen before the clock starts.
 *
 *   npx tsx bench/engine.ts [--models tiny,base] [--batches 1,4,8,16] [--minutes 10] [--threads 2]
 */
const SAMPLE_RATE = 16_000;
const models = benchArg("models", "tiny,base").split(",") as WhisperSize[];
const batches = benchArg("batches", "1,4,8,16").split(",").map(Number);
const threads = Number(benchArg("threads", "2"));
const minutes = Number(benchArg("minutes", "10"));
const file = benchArg("file", sharedPath("data", "longform", "en-20min.opus"));
const { samples, reference } = await excerpt(file, minutes);
const audioSec = samples.length / SAMPLE_RATE;
const wer = (hypothesis: string) => (reference === null ? null : +(wordErrorRate([{ reference, hypothesis }]).wer * 100).toFixed(2));
console.log(`${file}: ${audioSec.toFixed(1)} s in memory; ${threads} threads`);
const detector = await loadSpeechDetector({ VAD: true });

interface Row {
  model: string;
  engine: "longscribe" | "transformers.js" | "transformers.js (text only)";
  batch: number | null;
  audio_sec: number;
  wall_sec: number;
  rtf: number;
  wer: number | null;
  speedup_vs_transformersjs: number | null;
}
const rows: Row[] = [];
const models_used: Record<string, string> = {};
for (const size of models) {
  const dir = packagedModelDir(size);
  if (!dir) throw new Error(`sts-whisper-${size} is not installed; run npm install`);
  models_used[`whisper-${size}`] = `${dir} (q8: encoder_model_quantized.onnx, decoder_model_merged_quantized.onnx)`;

  // transformers.js in both its long-form modes: with segment times (what ours
  // produces, and what SRT needs) as the baseline, and text only.
  const theirs = await loadTransformersJs(size, threads);
  let theirWall = 0;
  for (const timestamps of [true, false]) {
    const t = performance.now();
    const theirText = await theirs.transcribe(samples, { timestamps });
    const wall = (performance.now() - t) / 1000;
    if (timestamps) theirWall = wall;
    const row: Row = {
      model: `whisper-${size}`,
      engine: timestamps ? "transformers.js" : "transformers.js (text only)",
      batch: null,
      audio_sec: +audioSec.toFixed(1),
      wall_sec: +wall.toFixed(2),
      rtf: +(wall / audioSec).toFixed(4),
      wer: wer(theirText),
      speedup_vs_transformersjs: +(theirWall / wall).toFixed(2),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  await theirs.dispose();

  const engine = await loadWarmEngine(dir, threads);
  for (const batch of batches) {
    const { segments, wallSec: wall } = await transcribeInMemory(samples, engine, detector, batch);
    const row: Row = {
      model: `whisper-${size}`,
      engine: "longscribe",
      batch,
      audio_sec: +audioSec.toFixed(1),
      wall_sec: +wall.toFixed(2),
      rtf: +(wall / audioSec).toFixed(4),
      wer: wer(segments.map((s) => s.text).join(" ")),
      speedup_vs_transformersjs: +(theirWall / wall).toFixed(2),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  await engine.model.release();
}
const out = writeResult("engine", {
  ...benchMeta(),
  threads,
  audio: `${file.replace(/^.*\/shared\//, "../shared/")}, first ${audioSec.toFixed(1)} s (cut in the silence after the last whole utterance)`,
  transformers_version: transformersVersion(),
  weights: models_used,
  note: "Both implementations in one process on the same onnxruntime-node, same weights and threads; audio decoded beforehand. transformers.js: its ASR pipeline, greedy, chunk_length_s 30 (stride 5 s), with return_timestamps (the baseline: segment times, as ours gives) and without (text only, which drops whole stretches where windows are joined). Ours: Silero VAD micro chunks (5–30 s, cut at quiet points) decoded in batches.",
  rows,
});
console.log(`wrote ${out}`);
