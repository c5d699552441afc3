import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { WhisperEngine } from "../gpu-machine/engine/whisper-engine.ts";
import { packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import { wordErrorRate } from "../gpu-machine/eval/wer.ts";
import { decodeWhole } from "../test/support/media-files.ts";
import { REPO_ROOT, sharedPath } from "../test/support/shared-data.ts";
import { benchArg } from "./results.ts";

/**
 * First version of the engine benchmark: real-time factor and WER of this engine
 * at several batch sizes against transformers.js's recorded run on the same clips
 * and weights (test/fixtures/transformersjs-baseline.json, made by
 * bench/transformersjs-baseline.ts). `npx tsx bench/engine.ts [--models tiny,base] [--batches 1,4,8]`
 */
interface BaselineClip { set: string; audio: string; reference: string; hypothesis: string; audio_sec: number }
interface BaselineModel { model: string; rtf: number; wall_sec: number; audio_sec: number; clips: BaselineClip[] }
const baseline = JSON.parse(readFileSync(join(REPO_ROOT, "test/fixtures/transformersjs-baseline.json"), "utf8")) as { models: BaselineModel[] };

const models = benchArg("models", "tiny,base").split(",") as Array<"tiny" | "base">;
const batches = benchArg("batches", "1,4,8").split(",").map(Number);
const threads = Number(benchArg("threads", "2"));

const rows: Array<Record<string, unknown>> = [];
for (const size of models) {
  const base = baseline.models.find((m) => m.model.endsWith(`whisper-${size}`));
  if (!base) throw new Error(`no transformers.js baseline for ${size}; run bench/transformersjs-baseline.ts first`);
  const audio = await Promise.all(base.clips.map((c) => decodeWhole(sharedPath("data", "speech", c.audio))));
  const audioSec = audio.reduce((a, s) => a + s.length / 16000, 0);
  const engine = await WhisperEngine.load(packagedModelDir(size)!, { threads });
  await engine.transcribe([new Float32Array(16000).fill(0.01)], { language: "en" }); // warm up
  const theirs = wordErrorRate(base.clips.map((c) => ({ reference: c.reference, hypothesis: c.hypothesis })));
  for (const batch of batches) {
    const t = performance.now();
    const results = await engine.transcribe(audio, { language: "en", batchSize: batch });
    const wall = (performance.now() - t) / 1000;
    const ours = wordErrorRate(results.map((r, i) => ({ reference: base.clips[i]!.reference, hypothesis: r.segments.map((s) => s.text).join(" ") })));
    const row = { model: `whisper-${size}`, batch, audio_sec: +audioSec.toFixed(1), wall_sec: +wall.toFixed(2), rtf: +(wall / audioSec).toFixed(4), wer: +(ours.wer * 100).toFixed(2), transformersjs_rtf: base.rtf, transformersjs_wer: +(theirs.wer * 100).toFixed(2), speedup_vs_transformersjs: +(base.rtf / (wall / audioSec)).toFixed(2) };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  await engine.model.release();
}
mkdirSync(join(REPO_ROOT, "bench/results"), { recursive: true });
writeFileSync(join(REPO_ROOT, "bench/results/engine.json"), `${JSON.stringify({ date: new Date().toISOString(), cpu: `${cpus()[0]?.model} × ${cpus().length}`, threads, clips: "librispeech-test-clean + jfk + ljspeech (27 clips, one window each)", rows }, null, 2)}\n`);
