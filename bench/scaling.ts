import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TranscriptionJob } from "../shared/api.ts";
import { startLocalEdge } from "../test/support/local-edge.ts";
import { generated } from "../test/support/media-files.ts";
import { startMediaServer } from "../test/support/media-server.ts";
import { REPO_ROOT } from "../test/support/shared-data.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "../test/support/test-secrets.ts";
import { JobTimeline } from "./job-timeline.ts";
import { benchArg, benchMeta, writeResult } from "./results.ts";
import { waitUntil } from "../shared/sleep.ts";

/**
 * Measure 3: scaling to many machines. The real edge (wrangler dev: job object,
 * queue, leases) and N real machine processes (claims, media through ffmpeg,
 * micro chunks, posts, heartbeats) on a long plan; only inference is replaced by
 * a sleep calibrated from the engine benchmark, compressed in time so a run
 * fits on one box. This measures the distribution system, not the model.
 *
 *   npx tsx bench/scaling.ts [--hours 10] [--machines 1,2,4,8,16,32] [--rtf R] [--target-sec 60]
 */
const hours = Number(benchArg("hours", "10"));
const counts = benchArg("machines", "1,2,4,8,16,32").split(",").map(Number);
const KEY = TEST_API_KEYS[0];

/** The per-machine real-time factor of the engine (measure 1's best batch), or 0.1. */
function measuredRtf(): number {
  const file = join(REPO_ROOT, "bench/results/engine.json");
  if (!existsSync(file)) return 0.1;
  const rows = (JSON.parse(readFileSync(file, "utf8")) as { rows?: Array<{ rtf?: number; engine?: string }> }).rows ?? [];
  const ours = rows.filter((r) => typeof r.rtf === "number" && r.engine === "longscribe").map((r) => r.rtf!);
  return ours.length > 0 ? Math.min(...ours) : 0.1;
}
const rtf = Number(benchArg("rtf", String(measuredRtf())));
const audioSec = hours * 3600;
// Compress time so that one machine needs about target-sec: the ratios are what count.
const targetSec = Number(benchArg("target-sec", "60"));
const simulatedRtf = Math.min(rtf, targetSec / audioSec);
const compression = rtf / simulatedRtf;

/**
 * A steady tone, 8 kHz µ-law WAV: decoding it costs next to nothing, so on a small
 * box the machines' CPU goes to what is being measured (claims, posts, merges)
 * rather than to an audio codec. It has sound everywhere, so no chunk is skipped
 * as silence. The real pipeline still streams and cuts every range.
 */
function longRecording(): Promise<string> {
  return generated(`tone-${hours}h-8k-mulaw.wav`, (o) => [
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=220:sample_rate=8000:duration=${audioSec}`,
    "-c:a",
    "pcm_mulaw",
    o,
  ]);
}

interface Row {
  machines: number;
  wall_sec: number;
  plan_sec: number;
  ideal_sec: number;
  efficiency_pct: number;
  first_segment_sec: number | null;
  last_range_tail_sec: number | null;
  ranges: number;
  claims_failed: number;
}

/** Whatever a run has started, so a Ctrl-C does not leave workerd or machines behind. */
const cleanups = new Set<() => Promise<void> | void>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130)));
}

async function runOnce(n: number, mediaUrl: string): Promise<Row> {
  const edge = await startLocalEdge({
    API_KEYS: TEST_API_KEYS.join(","),
    WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY,
    MACHINE_TOKEN: TEST_MACHINE_TOKEN,
    LEASE_SEC: "60",
  });
  const machines: Array<{ child: ChildProcess; log: string }> = [];
  const cleanup = async () => {
    for (const m of machines) m.child.kill("SIGKILL");
    await edge.stop();
  };
  cleanups.add(cleanup);
  try {
    for (let i = 0; i < n; i++) {
      const m = {
        child: spawn(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", "serve"], {
          cwd: REPO_ROOT,
          stdio: ["ignore", "ignore", "pipe"],
          env: {
            ...process.env,
            EDGE_URL: edge.url,
            MACHINE_TOKEN: TEST_MACHINE_TOKEN,
            MACHINE_ID: `sim-${i}`,
            SIMULATED_RTF: String(simulatedRtf),
            VAD: "0",
            IDLE_EXIT_SEC: "3600",
            ALLOW_PRIVATE_MEDIA: "1",
          },
        }),
        log: "",
      };
      m.child.stderr?.on("data", (d: Buffer) => (m.log += d.toString()));
      machines.push(m);
    }
    await waitUntil(() => machines.every((m) => m.log.includes("serving")), { timeoutMs: 60_000, intervalMs: 100 });
    const headers = { authorization: `Bearer ${KEY}` };
    const timeline = new JobTimeline();
    const job = (await (
      await fetch(`${edge.url}/v1/transcriptions`, { method: "POST", headers, body: JSON.stringify({ audio_url: mediaUrl, language: "en" }) })
    ).json()) as TranscriptionJob;
    let done: TranscriptionJob | null = null;
    while (!done) {
      const j = (await (await fetch(`${edge.url}/v1/transcriptions/${job.id}`, { headers })).json()) as TranscriptionJob;
      if (timeline.see(j)) done = j;
      else await new Promise((r) => setTimeout(r, 100));
    }
    const end = timeline.endedAt!;
    if (done.status !== "completed") throw new Error(`job ${done.status}: ${JSON.stringify(done.error)}`);
    const starts = machines.flatMap((m) => [...m.log.matchAll(new RegExp(`^(\\S+) \\S+ start ${job.id}\\.r\\d+`, "gm"))].map((x) => Date.parse(x[1]!)));
    const wall = timeline.wallSec;
    const planSec = timeline.planSec;
    const ideal = (audioSec * simulatedRtf) / n;
    return {
      machines: n,
      wall_sec: +wall.toFixed(2),
      plan_sec: +planSec.toFixed(2),
      ideal_sec: +ideal.toFixed(2),
      // Against the time after the plan, which one machine does whatever N is.
      efficiency_pct: +((100 * ideal) / Math.max(1e-9, wall - planSec)).toFixed(1),
      first_segment_sec: timeline.firstSegmentSec === null ? null : +timeline.firstSegmentSec.toFixed(2),
      last_range_tail_sec: starts.length > 0 ? +((end - Math.max(...starts)) / 1000).toFixed(2) : null,
      ranges: done.progress?.ranges_total ?? 0,
      claims_failed: machines.reduce((s, m) => s + (m.log.match(/claim failed/g)?.length ?? 0), 0),
    };
  } finally {
    cleanups.delete(cleanup);
    await cleanup();
  }
}

const media = await startMediaServer({ "/long.wav": { file: await longRecording() } });
const rows: Row[] = [];
try {
  for (const n of counts) {
    const row = await runOnce(n, media.url("/long.wav"));
    rows.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  await media.close();
}
writeResult("scaling", {
  ...benchMeta(),
  note: "Simulated inference: machines sleep instead of running Whisper. This measures the distribution system (edge, queue, leases, media, posts), not the model.",
  params: { hours, audio_sec: audioSec, engine_rtf: rtf, simulated_rtf: simulatedRtf, time_compression: +compression.toFixed(1) },
  rows,
});
