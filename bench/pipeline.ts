import { packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import { wordErrorRate } from "../gpu-machine/eval/wer.ts";
import { loadSpeechDetector } from "../gpu-machine/media/speech-detector.ts";
import type { TranscriptionJob } from "../shared/api.ts";
import { generated } from "../test/support/media-files.ts";
import { startMediaServer } from "../test/support/media-server.ts";
import { sharedPath } from "../test/support/shared-data.ts";
import { Stack } from "../test/reliability/stack.ts";
import { excerpt, loadWarmEngine, transcribeInMemory } from "./in-memory.ts";
import { JobTimeline } from "./job-timeline.ts";
import { benchArg, benchMeta, writeResult } from "./results.ts";

/**
 * Measure 2: pipeline overhead. One machine, the 20-minute recording through the
 * whole local stack as `npm start` runs it (wrangler dev, the supervisor, a
 * machine process; probe, plan, range tasks, ffmpeg over HTTP range reads,
 * posts, merge) against the engine alone on the same audio already in memory
 * (same model, threads, batch, VAD and micro chunks). Two stack runs: the first
 * starts its machine cold (process, model load), the second finds it warm.
 *
 *   npx tsx bench/pipeline.ts [--model base|tiny] [--batch 8] [--threads 2] [--minutes N]
 */
const size = benchArg("model", "base") as "tiny" | "base";
const batch = benchArg("batch", "8");
const threads = Number(benchArg("threads", "2"));
const minutes = benchArg("minutes", "");
const longform = sharedPath("data", "longform", "en-20min.opus");
const dir = packagedModelDir(size);
if (!dir) throw new Error(`sts-whisper-${size} is not installed; run npm install`);

const { samples, reference } = await excerpt(longform, minutes ? Number(minutes) : Infinity);
const audioSec = samples.length / 16_000;
// A shorter run (the test's tiny input) serves the same cut of the file, without re-encoding.
const file = minutes
  ? await generated(`en-20min-first-${audioSec.toFixed(2)}s.opus`, (o) => ["-i", longform, "-t", audioSec.toFixed(2), "-c", "copy", o])
  : longform;
const wer = (text: string) => (reference === null ? null : +(wordErrorRate([{ reference, hypothesis: text }]).wer * 100).toFixed(2));

// The engine alone, loaded and warmed before the clock starts.
const engine = await loadWarmEngine(dir, threads);
const detector = await loadSpeechDetector({ VAD: true });
const alone = await transcribeInMemory(samples, engine, detector, Number(batch));
await engine.model.release();
console.log(`engine alone: ${audioSec.toFixed(1)} s in ${alone.wallSec.toFixed(1)} s`);

interface StackRun {
  machine: "cold" | "warm";
  wall_sec: number;
  plan_sec: number | null;
  first_segment_sec: number | null;
  machine_sec: number | null;
  segments: number;
  wer: number | null;
  overhead_pct: number;
}

const media = await startMediaServer({ "/long.opus": { file } });
const stack = await Stack.start({
  model: dir,
  maxMachines: 1,
  leaseSec: 60,
  idleExitSec: 120,
  audioSecPerMachine: 3600,
  machineEnv: { WHISPER_THREADS: String(threads), WHISPER_BATCH: batch },
});
const stop = () => Promise.allSettled([stack.stop(), media.close()]);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop().then(() => process.exit(130)));
const runs: StackRun[] = [];
try {
  for (const machine of ["cold", "warm"] as const) {
    const timeline = new JobTimeline();
    const job = await stack.submit({ audio_url: media.url("/long.opus"), language: "en" });
    const done: TranscriptionJob = await stack.until(job.id, (j) => timeline.see(j), 3600);
    const wall = timeline.wallSec;
    const first = timeline.firstSegmentSec;
    if (done.status !== "completed") throw new Error(`job ${done.status}: ${JSON.stringify(done.error)}`);
    const transcript = await stack.transcript(job.id);
    const run: StackRun = {
      machine,
      wall_sec: +wall.toFixed(2),
      plan_sec: +timeline.planSec.toFixed(2),
      first_segment_sec: first === null ? null : +first.toFixed(2),
      machine_sec: done.usage?.machine_sec ?? null,
      segments: transcript.segments.length,
      wer: wer(transcript.text),
      overhead_pct: +((100 * (wall - alone.wallSec)) / alone.wallSec).toFixed(1),
    };
    runs.push(run);
    console.log(JSON.stringify(run));
  }
} finally {
  await stop();
}
const out = writeResult("pipeline", {
  ...benchMeta(),
  model: `whisper-${size}`,
  threads,
  batch: Number(batch),
  audio_sec: +audioSec.toFixed(1),
  note: "Overhead = (stack wall − engine-alone wall) ÷ engine-alone wall. Stack wall runs from the submit to the completed status; it holds the probe, the plan, the range tasks, ffmpeg over HTTP range reads, heartbeats, posts and the merge, plus machine start and model load on the cold run. The engine alone gets the same audio decoded in memory. Both share this machine's cores with nothing else of the benchmark's.",
  engine_alone: {
    wall_sec: +alone.wallSec.toFixed(2),
    rtf: +(alone.wallSec / audioSec).toFixed(4),
    segments: alone.segments.length,
    wer: wer(alone.segments.map((s) => s.text).join(" ")),
  },
  stack: runs,
});
console.log(`wrote ${out}`);
