import type { TranscriptionJob } from "../shared/api.ts";
import type { Task } from "../shared/protocol.ts";
import { EdgeClient } from "../gpu-machine/runtime/edge-client.ts";
import { startLocalEdge } from "../test/support/local-edge.ts";
import { generated } from "../test/support/media-files.ts";
import { startMediaServer } from "../test/support/media-server.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "../test/support/test-secrets.ts";
import { benchArg, benchMeta, writeResult } from "./results.ts";

/**
 * Measure 4: the edge on local workerd (wrangler dev). Status-poll and
 * segment-post latency p50/p99 and throughput, through the same HTTP routes and
 * the same machine client the machines use. Loopback only; bounded in time.
 *
 *   npx tsx bench/edge.ts [--seconds 10] [--concurrency 16]
 */
const seconds = Number(benchArg("seconds", "10"));
const concurrency = Number(benchArg("concurrency", "16"));
const KEY = TEST_API_KEYS[0];
const RANGES = 64;

const pct = (sorted: number[], p: number) => +(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0).toFixed(2);

/** Runs `fn` from `concurrency` workers for `seconds`; latencies in ms. */
async function hammer(
  fn: (worker: number, i: number) => Promise<boolean>,
): Promise<{ requests: number; failed: number; per_sec: number; p50_ms: number; p99_ms: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const end = Date.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; Date.now() < end; i++) {
        const t = performance.now();
        if (!(await fn(w, i).catch(() => false))) failed++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  return { requests: latencies.length, failed, per_sec: Math.round(latencies.length / wall), p50_ms: pct(sorted, 50), p99_ms: pct(sorted, 99) };
}

const media = await startMediaServer({
  "/tone.wav": { file: await generated("tone-60s.wav", (o) => ["-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000:duration=60", o]) },
});
const edge = await startLocalEdge({
  API_KEYS: TEST_API_KEYS.join(","),
  WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY,
  MACHINE_TOKEN: TEST_MACHINE_TOKEN,
  LEASE_SEC: "3600",
});
try {
  const headers = { authorization: `Bearer ${KEY}` };
  const job = (await (
    await fetch(`${edge.url}/v1/transcriptions`, { method: "POST", headers, body: JSON.stringify({ audio_url: media.url("/tone.wav"), language: "en" }) })
  ).json()) as TranscriptionJob;
  const client = new EdgeClient(edge.url, TEST_MACHINE_TOKEN);
  const [plan] = await client.claim("bench", 1);
  const rangeSec = 300;
  await client.complete(plan!, {
    machine_sec: 1,
    plan: {
      duration_sec: RANGES * rangeSec,
      ranges: Array.from({ length: RANGES }, (_, i) => ({ start_sec: i * rangeSec, end_sec: (i + 1) * rangeSec })),
      media: { container: "wav", duration_sec: RANGES * rangeSec, channels: 1 },
    },
  });
  const ranges: Task[] = [];
  while (ranges.length < RANGES) {
    const got = await client.claim("bench", 16);
    if (got.length === 0) break;
    ranges.push(...got.filter((t) => t.kind === "range"));
  }
  const polls = await hammer(
    async () =>
      await fetch(`${edge.url}/v1/transcriptions/${job.id}`, { headers }).then(async (r) => {
        await r.arrayBuffer();
        return r.ok;
      }),
  );
  // Each worker posts to its own ranges, 10 segments per post, as a machine does after a batch.
  const posts = await hammer(async (w, i) => {
    const task = ranges[(w + i * concurrency) % ranges.length]!;
    if (task.kind !== "range") return false;
    const seq = Math.floor((w + i * concurrency) / ranges.length);
    const base = task.start_sec + (seq % 30) * 10;
    const segments = Array.from({ length: 10 }, (_, k) => ({
      start_sec: base + k,
      end_sec: base + k + 0.9,
      text: `segment ${seq}.${k} of a benchmark`,
      language: "en",
      avg_logprob: -0.2,
      no_speech_prob: 0.01,
    }));
    await client.segments(task, { seq, segments, audio_sec_done: Math.min(rangeSec, (seq % 30) * 10 + 10) });
    return true;
  });
  const row = { concurrency, seconds, status_polls: polls, segment_posts: posts };
  console.log(JSON.stringify(row));
  writeResult("edge", { ...benchMeta(), note: "wrangler dev (local workerd) on this machine; the load generator shares its cores.", ...row });
} finally {
  await edge.stop();
  await media.close();
}
