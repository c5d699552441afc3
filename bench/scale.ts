import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { EdgeClient, EdgeError } from "../gpu-machine/runtime/edge-client.ts";
import type { TranscriptionJob } from "../shared/api.ts";
import type { Task } from "../shared/protocol.ts";
import type { Segment } from "../shared/segment.ts";
import { sleep } from "../shared/sleep.ts";
import { DEFAULT_PRICES, pricePerHour } from "../edge/providers/prices.ts";
import { REPO_ROOT } from "../test/support/shared-data.ts";
import { startLocalEdge, type LocalEdge } from "../test/support/local-edge.ts";
import { TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "../test/support/test-secrets.ts";
import { billTable, CLOUDFLARE_PRICES, EdgeUsage, edgeBill, type Scenario } from "./edge-bill.ts";
import { benchArg, benchMeta, writeResult } from "./results.ts";

/**
 * The coordination layer alone, at scale: virtual machines (many per process:
 * async loops, no ffmpeg, no model) speak the real machine protocol over HTTP to
 * the real edge under wrangler dev. Each claims, heartbeats, posts segments of
 * realistic count and size at a simulated pace (`--rtf`, e.g. a GPU at 300× real
 * time), completes, and at `--faults` sometimes vanishes (its lease then runs
 * out) or gives a range back. Plans come from a synthetic recording of any
 * length: the media server answers the edge's checks for a file nobody decodes.
 *
 *   npx tsx bench/scale.ts [--machines 1,16,64,256] [--hours 10] [--rtf 300] [--faults 0.02]
 *                          [--jobs 0] [--job-hours 1] [--job-machines 256[,…]] [--keys 50]
 *                          [--shards 1] [--lease 10] [--out scale] [--bill]
 *
 * Writes bench/results/<out>.json: per N, efficiency against the ideal
 * (audio ÷ rtf ÷ N, or one range when N exceeds the ranges), claim / heartbeat /
 * post latency p50/p99, lost and doubled ranges (checked against the transcript:
 * must be 0), and workerd's CPU per edge operation measured in separate phases.
 * `--shards K` runs the edge with QUEUE_SHARDS=K. `--bill` also prices the edge's
 * own use per job (bench/edge-bill.ts) from the rows and object requests the
 * workerd test edge/queue/edge-usage.bill.test.ts counts, into scale-bill.json.
 */
const machineCounts = benchArg("machines", "1,16,64,256")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const hours = Number(benchArg("hours", "10"));
const rtf = Number(benchArg("rtf", "300"));
const faultRate = Number(benchArg("faults", "0.02"));
const manyJobs = Number(benchArg("jobs", "0"));
const jobHours = Number(benchArg("job-hours", "1"));
const jobMachineCounts = benchArg("job-machines", "256")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const keyCount = Number(benchArg("keys", "50"));
const shards = Number(benchArg("shards", "1"));
const outName = benchArg("out", "scale");
const bill = process.argv.includes("--bill");
/** Operations per CPU-cost phase (claims; posts and heartbeats scale from it). */
const opSamples = Number(benchArg("op-samples", "1000"));
/** Short, so the leases of machines that vanish run out within the run (production: 60 s). */
const LEASE_SEC = Number(benchArg("lease", "10"));
/** A segment every 4 s of audio, posted 16 at a time: about what Whisper gives on speech. */
const SEGMENT_SEC = 4;
const PER_POST = 16;

const KEYS = Array.from({ length: keyCount }, (_, i) => `scale_key_${String(i).padStart(3, "0")}_0123456789`);

/** A recording that exists only as headers: the edge's HEAD and one-byte range check pass; nobody decodes it. */
async function syntheticMedia(): Promise<{ url: (sec: number) => string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const size = 40_000_000;
    const headers = { "content-type": "audio/ogg", "accept-ranges": "bytes", etag: '"synthetic"', "last-modified": "Tue, 01 Dec 2026 00:00:00 GMT" };
    if (req.headers.range) res.writeHead(206, { ...headers, "content-range": `bytes 0-0/${size}`, "content-length": "1" }).end("O");
    else res.writeHead(200, { ...headers, "content-length": String(size) }).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { url: (sec) => `http://127.0.0.1:${port}/synthetic-${sec}.ogg`, close: () => new Promise((r) => server.close(() => r())) };
}

/** workerd's CPU seconds so far (user + system, all its processes). */
function workerdCpuSec(): number {
  try {
    const pids = execFileSync("pgrep", ["-f", "workerd serve"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
    const tick = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return pids.reduce((sum, pid) => {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return sum + (Number(fields[11]) + Number(fields[12])) / tick;
    }, 0);
  } catch {
    return Number.NaN;
  }
}

class Latencies {
  readonly ms: Record<"claim" | "heartbeat" | "post" | "complete", number[]> = { claim: [], heartbeat: [], post: [], complete: [] };
  async time<T>(op: keyof Latencies["ms"], fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.ms[op].push(performance.now() - t);
    }
  }
  summary(): Record<string, { n: number; p50_ms: number; p99_ms: number }> {
    return Object.fromEntries(
      Object.entries(this.ms).map(([op, list]) => {
        const sorted = [...list].sort((a, b) => a - b);
        const at = (p: number) => +(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0).toFixed(1);
        return [op, { n: sorted.length, p50_ms: at(50), p99_ms: at(99) }];
      }),
    );
  }
}

interface Counters {
  vanished: number;
  gaveBack: number;
  rangesDone: number;
  /** Claims answered with no task (204): each asks every shard. */
  emptyClaims: number;
}

/** The plan a real machine would post, made from the synthetic duration alone (ranges of 300 s, boundaries settled). */
function planFor(task: Task): { duration_sec: number; ranges: Array<{ start_sec: number; end_sec: number }> } {
  const duration = Number(/synthetic-(\d+)\.ogg/.exec(task.media_url)?.[1] ?? "3600");
  const n = Math.ceil(duration / 300);
  return { duration_sec: duration, ranges: Array.from({ length: n }, (_, i) => ({ start_sec: (i * duration) / n, end_sec: ((i + 1) * duration) / n })) };
}

function segmentsOf(task: Extract<Task, { kind: "range" }>, from: number, to: number): Segment[] {
  const out: Segment[] = [];
  for (let k = from; k < to; k++) {
    const start = task.start_sec + k * SEGMENT_SEC;
    out.push({
      start_sec: start,
      end_sec: Math.min(task.end_sec, start + SEGMENT_SEC - 0.2),
      // Names its range and place, so the transcript shows any segment lost or doubled.
      text: `r${task.range_index}k${k} and some words a speaker would say in four seconds or so`,
      language: "en",
      avg_logprob: -0.2,
      no_speech_prob: 0.01,
      compression_ratio: 1.4,
    });
  }
  return out;
}

/** One virtual machine: claims until `stop`, runs what it gets at the simulated pace. */
async function virtualMachine(id: string, edge: LocalEdge, lat: Latencies, counts: Counters, stop: () => boolean): Promise<void> {
  const client = new EdgeClient(edge.url, TEST_MACHINE_TOKEN, 8);
  let idle = 0;
  while (!stop()) {
    let tasks: Task[];
    try {
      tasks = await lat.time("claim", () => client.claim(id, 1));
    } catch {
      await sleep(500);
      continue;
    }
    if (tasks.length === 0) {
      counts.emptyClaims++;
      // As a real machine polls (runtime/machine.ts): at once at first, backing off to 2 s.
      idle += 1;
      await sleep(Math.min(2000, 100 * 2 ** Math.min(idle, 5)));
      continue;
    }
    idle = 0;
    for (const task of tasks) await runTask(client, task, lat, counts).catch(() => undefined);
  }
}

async function runTask(client: EdgeClient, task: Task, lat: Latencies, counts: Counters): Promise<void> {
  if (task.kind === "plan") {
    await lat.time("complete", () =>
      client.complete(task, {
        machine_sec: 0.5,
        plan: { ...planFor(task), media: { container: "ogg", duration_sec: planFor(task).duration_sec, channels: 1 } },
      }),
    );
    return;
  }
  const fault = Math.random();
  const audio = task.end_sec - task.start_sec;
  const total = Math.ceil(audio / SEGMENT_SEC);
  const posts = Math.ceil(total / PER_POST);
  const workMs = (audio / rtf) * 1000;
  let lastBeat = performance.now();
  for (let p = 0; p < posts; p++) {
    await sleep(workMs / posts);
    if (fault < faultRate / 2 && p === Math.floor(posts / 2)) {
      counts.vanished++; // the machine dies mid-range: no more heartbeats, no completion
      return;
    }
    if (performance.now() - lastBeat > (LEASE_SEC * 1000) / 3) {
      lastBeat = performance.now();
      const beat = await lat.time("heartbeat", () => client.heartbeat(task));
      if (!beat.continue) return;
    }
    const segments = segmentsOf(task, p * PER_POST, Math.min(total, (p + 1) * PER_POST));
    try {
      await lat.time("post", () => client.segments(task, { seq: p, segments, audio_sec_done: Math.min(audio, (p + 1) * PER_POST * SEGMENT_SEC) }));
    } catch (error) {
      if (error instanceof EdgeError && error.superseded) return;
      throw error;
    }
  }
  if (fault >= faultRate / 2 && fault < faultRate) {
    counts.gaveBack++;
    await client.fail(task, { retryable: true, code: "machine_shutdown", message: "simulated shutdown" });
    return;
  }
  await lat.time("complete", () => client.complete(task, { machine_sec: workMs / 1000 }));
  counts.rangesDone++;
}

/** Lost or doubled segments of a finished job, from its transcript. */
async function checkTranscript(edge: LocalEdge, key: string, jobId: string): Promise<{ lost: number; doubled: number; ranges: number }> {
  const r = await fetch(`${edge.url}/v1/transcriptions/${jobId}/transcript?format=json`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await r.json()) as { segments: Array<{ text: string; start_sec: number }> };
  const seen = new Map<string, number>();
  for (const s of body.segments) {
    const m = /^r(\d+)k(\d+) /.exec(s.text);
    if (m) seen.set(`${m[1]}:${m[2]}`, (seen.get(`${m[1]}:${m[2]}`) ?? 0) + 1);
  }
  const job = (await (await fetch(`${edge.url}/v1/transcriptions/${jobId}`, { headers: { authorization: `Bearer ${key}` } })).json()) as TranscriptionJob;
  const ranges = job.progress.ranges_total;
  const duration = job.progress.audio_sec_total;
  let lost = 0;
  let doubled = 0;
  for (let i = 0; i < ranges; i++) {
    const audio = duration / ranges;
    for (let k = 0; k < Math.ceil(audio / SEGMENT_SEC); k++) {
      const n = seen.get(`${i}:${k}`) ?? 0;
      if (n === 0) lost++;
      if (n > 1) doubled += n - 1;
    }
  }
  return { lost, doubled, ranges };
}

/** Until every job has ended; the ones that failed, by error code (a row must show them, not stop the run). */
async function waitForJobs(edge: LocalEdge, jobs: Array<{ key: string; id: string }>, timeoutMs: number): Promise<Map<string, string>> {
  const end = Date.now() + timeoutMs;
  const pending = new Set(jobs.map((j) => j.id));
  const failed = new Map<string, string>();
  let said = Date.now();
  while (pending.size > 0) {
    if (Date.now() > end) throw new Error(`${pending.size} jobs unfinished after ${timeoutMs / 1000} s`);
    if (jobs.length > 1 && Date.now() - said > 30_000) {
      said = Date.now();
      console.error(`${new Date().toISOString()} ${jobs.length - pending.size} of ${jobs.length} jobs ended (${failed.size} failed)`);
    }
    for (const j of jobs.filter((x) => pending.has(x.id)).slice(0, 50)) {
      // An edge saturated by the fleet answers slowly: a poll that fails is tried on the next round.
      const answer = await fetch(`${edge.url}/v1/transcriptions/${j.id}`, { headers: { authorization: `Bearer ${j.key}` } }).catch(() => null);
      if (!answer?.ok) continue;
      const job = (await answer.json()) as TranscriptionJob;
      if (job.status === "completed") pending.delete(j.id);
      else if (job.status === "failed" || job.status === "canceled") {
        pending.delete(j.id);
        failed.set(j.id, job.error?.code ?? job.status);
        console.error(`job ${j.id} ${job.status}: ${JSON.stringify(job.error)}`);
      }
    }
    await sleep(250);
  }
  return failed;
}

async function submit(edge: LocalEdge, key: string, url: string): Promise<string> {
  const r = await fetch(`${edge.url}/v1/transcriptions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ audio_url: url, language: "en" }),
  });
  if (r.status !== 202) throw new Error(`submit: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { id: string }).id;
}

/** N machines on the given jobs until all complete; efficiency, latencies, integrity. */
async function fleetRun(edge: LocalEdge, n: number, jobs: Array<{ key: string; id: string }>, audioSec: number, maxRangeSec: number) {
  const lat = new Latencies();
  const counts: Counters = { vanished: 0, gaveBack: 0, rangesDone: 0, emptyClaims: 0 };
  let stop = false;
  const cpu0 = workerdCpuSec();
  const t0 = performance.now();
  const fleet = Array.from({ length: n }, (_, i) => virtualMachine(`vm-${n}-${i}`, edge, lat, counts, () => stop));
  let failed = new Map<string, string>();
  try {
    // Many jobs are bound by the edge, not the fleet: two seconds a job at least.
    failed = await waitForJobs(edge, jobs, Math.max(120_000, (audioSec / rtf / n) * 20_000, jobs.length * 2_000));
  } finally {
    stop = true;
  }
  const wallSec = (performance.now() - t0) / 1000;
  await Promise.all(fleet);
  const cpuSec = workerdCpuSec() - cpu0;
  const ideal = Math.max(audioSec / rtf / n, maxRangeSec / rtf);
  let lost = 0;
  let doubled = 0;
  for (const j of jobs.filter((x) => !failed.has(x.id))) {
    const c = await checkTranscript(edge, j.key, j.id);
    lost += c.lost;
    doubled += c.doubled;
  }
  const failedByCode: Record<string, number> = {};
  for (const code of failed.values()) failedByCode[code] = (failedByCode[code] ?? 0) + 1;
  const latency = lat.summary();
  const requests = Object.values(latency).reduce((s, l) => s + l.n, 0);
  return {
    machines: n,
    jobs: jobs.length,
    audio_hours: +(audioSec / 3600).toFixed(1),
    wall_sec: +wallSec.toFixed(1),
    ideal_sec: +ideal.toFixed(1),
    efficiency: +(ideal / wallSec).toFixed(3),
    latency,
    failed_jobs: failed.size,
    failed_by_code: failedByCode,
    lost_segments: lost,
    doubled_segments: doubled,
    vanished_mid_range: counts.vanished,
    given_back: counts.gaveBack,
    empty_claims: counts.emptyClaims,
    requests,
    workerd_cpu_sec: +cpuSec.toFixed(1),
    workerd_cpu_ms_per_request: +((cpuSec * 1000) / Math.max(1, requests)).toFixed(2),
  };
}

/** CPU workerd spends per operation, each measured alone: claims on an empty queue, segment posts, transcript pages. */
async function perOperationCpu(edge: LocalEdge, media: { url: (sec: number) => string }) {
  const client = new EdgeClient(edge.url, TEST_MACHINE_TOKEN);
  const key = KEYS[0]!;
  const phase = async (count: number, concurrency: number, op: (i: number) => Promise<unknown>) => {
    const cpu0 = workerdCpuSec();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await op(next++);
      }),
    );
    return +(((workerdCpuSec() - cpu0) * 1000) / count).toFixed(2);
  };
  const claimMs = await phase(opSamples, 16, (i) => client.claim(`idle-${i % 64}`, 1));
  // Claims that each lease a range: one job of as many ranges (it lives on one shard, so with
  // QUEUE_SHARDS > 1 most claimers ask other shards first, as they would for one big job).
  const leases = Math.min(opSamples, 1000);
  const leaseJob = await submit(edge, key, media.url(leases * 300));
  const [leasePlan] = await client.claim("cpu-planner", 1);
  await client.complete(leasePlan!, {
    machine_sec: 0.1,
    plan: { ...planFor(leasePlan!), media: { container: "ogg", duration_sec: leases * 300, channels: 1 } },
  });
  const leaseMs = await phase(leases, 16, async (i) => {
    if ((await client.claim(`busy-${i % 64}`, 1)).length !== 1) throw new Error("a claim in the lease phase found no range");
  });
  // Its leases (LEASE_SEC here is short) would run out and hand its ranges to the phases below.
  await fetch(`${edge.url}/v1/transcriptions/${leaseJob}/cancel`, { method: "POST", headers: { authorization: `Bearer ${key}` } });
  // A job with one long range held by one machine, posted to 1,000 times.
  const jobId = await submit(edge, key, media.url(3600));
  const [plan] = await client.claim("cpu-probe", 1);
  await client.complete(plan!, {
    machine_sec: 0.1,
    plan: { duration_sec: 3600, ranges: [{ start_sec: 0, end_sec: 3600 }], media: { container: "ogg", duration_sec: 3600, channels: 1 } },
  });
  const [range] = await client.claim("cpu-probe", 1);
  const task = range as Extract<Task, { kind: "range" }>;
  const postMs = await phase(Math.min(880, opSamples), 8, (i) =>
    client.segments(task, { seq: i, segments: segmentsOf(task, (i % 56) * PER_POST, (i % 56) * PER_POST + PER_POST), audio_sec_done: 10 }),
  );
  const heartbeatMs = await phase(Math.ceil(opSamples / 2), 8, () => client.heartbeat(task));
  // 14,080 segments merged: read the transcript so far, as a poller does.
  const pageMs = await phase(Math.max(2, Math.ceil(opSamples / 50)), 2, () =>
    fetch(`${edge.url}/v1/transcriptions/${jobId}/transcript?format=json&partial=true`, { headers: { authorization: `Bearer ${key}` } }).then((r) =>
      r.arrayBuffer(),
    ),
  );
  return {
    claim_empty_queue_ms: claimMs,
    claim_leasing_a_range_ms: leaseMs,
    segment_post_16_ms: postMs,
    heartbeat_ms: heartbeatMs,
    partial_transcript_14k_segments_ms: pageMs,
  };
}

/** The edge under wrangler dev with every key and no per-key limits: the fleet is what is measured. */
function startEdge(): Promise<LocalEdge> {
  return startLocalEdge({
    API_KEYS: KEYS.join(","),
    WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY,
    MACHINE_TOKEN: TEST_MACHINE_TOKEN,
    LEASE_SEC: String(LEASE_SEC),
    MAX_ACTIVE_JOBS_PER_KEY: "0",
    MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY: "0",
    QUEUE_SHARDS: String(shards),
  });
}

/** Rows and object requests per operation over a job's life, as edge/queue/edge-usage.bill.test.ts counts them in workerd. */
function measuredEdgeUsage(): EdgeUsage {
  const run = spawnSync("npx", ["vitest", "run", "--project", "edge-bill"], { cwd: REPO_ROOT, encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  const output = `${run.stdout}\n${run.stderr}`;
  const line = output.split("\n").find((l) => l.includes("EDGE_USAGE "));
  if (run.status !== 0 || !line) throw new Error(`the edge-bill test did not print its counts (exit ${run.status}):\n${output.slice(-3000)}`);
  return EdgeUsage.parse(JSON.parse(line.slice(line.indexOf("EDGE_USAGE ") + "EDGE_USAGE ".length)));
}

/** The edge's bill for 1-hour and 24-hour jobs, polled and followed, at this run's pace and shards. */
function edgeBills(usage: EdgeUsage) {
  const base: Omit<Scenario, "audio_hours" | "client"> = {
    poll_sec: 5,
    rtf,
    range_sec: 300,
    segment_sec: SEGMENT_SEC,
    segments_per_post: PER_POST,
    // Production's LEASE_SEC, AUDIO_SEC_PER_MACHINE and MAX_MACHINES (wrangler.toml), not this bench's short lease.
    lease_sec: 60,
    audio_sec_per_machine: 3600,
    max_machines: 8,
    // README: a 10-hour file waits ~21 s for its plan.
    plan_sec_per_audio_hour: 2.1,
    idle_exit_sec: 120,
    shards,
    awake_after_sec: 10,
    machine_usd_per_hour: pricePerHour(DEFAULT_PRICES, "runpod", "NVIDIA L4", Number.NaN),
  };
  const scenarios = [1, 24].flatMap((h) => (["poll", "follow"] as const).map((client) => ({ ...base, audio_hours: h, client })));
  return { scenario: base, bills: scenarios.map((sc) => edgeBill(usage, sc)) };
}

const media = await syntheticMedia();
const rows = [];
let perOp: Awaited<ReturnType<typeof perOperationCpu>> | null = null;
try {
  for (const n of machineCounts) {
    const edge = await startEdge();
    try {
      const audio = hours * 3600;
      const id = await submit(edge, KEYS[0]!, media.url(audio));
      const row = await fleetRun(edge, n, [{ key: KEYS[0]!, id }], audio, 300);
      console.log(JSON.stringify(row));
      rows.push({ run: `one ${hours}-hour job`, ...row });
      if (perOp === null) perOp = await perOperationCpu(edge, media);
    } finally {
      await edge.stop();
    }
  }
  for (const n of manyJobs > 0 ? jobMachineCounts : []) {
    const edge = await startEdge();
    try {
      const jobs: Array<{ key: string; id: string }> = [];
      for (let i = 0; i < manyJobs; i++) {
        const key = KEYS[i % KEYS.length]!;
        jobs.push({ key, id: await submit(edge, key, media.url(jobHours * 3600)) });
      }
      const row = await fleetRun(edge, n, jobs, manyJobs * jobHours * 3600, 300);
      console.log(JSON.stringify(row));
      rows.push({ run: `${manyJobs} concurrent ${jobHours}-hour jobs from ${KEYS.length} keys`, ...row });
      if (perOp === null) perOp = await perOperationCpu(edge, media);
    } finally {
      await edge.stop();
    }
  }
  const result = { ...benchMeta(), rtf, fault_rate: faultRate, lease_sec: LEASE_SEC, queue_shards: shards, rows, per_operation_cpu_ms: perOp };
  console.log(JSON.stringify(perOp));
  console.log(`wrote ${writeResult(outName, result)}`);
  if (bill) {
    const usage = measuredEdgeUsage();
    const { scenario, bills } = edgeBills(usage);
    // What the fleet run measured per range, beside what the bill assumes (5 posts, 1 claim, 1 complete).
    const perRange = rows.map((r) => {
      const ranges = (r.audio_hours * 3600) / 300;
      return {
        run: r.run,
        machines: r.machines,
        claims: +(r.latency.claim!.n / ranges).toFixed(2),
        empty_claims: +(r.empty_claims / ranges).toFixed(2),
        posts: +(r.latency.post!.n / ranges).toFixed(2),
        heartbeats: +(r.latency.heartbeat!.n / ranges).toFixed(2),
        completes: +(r.latency.complete!.n / ranges).toFixed(2),
      };
    });
    const table = billTable(bills);
    console.log(table);
    const billResult = {
      ...benchMeta(),
      prices: CLOUDFLARE_PRICES,
      scenario,
      queue_shards: shards,
      bills,
      table,
      fleet_run_requests_per_range: perRange,
      usage,
    };
    console.log(`wrote ${writeResult("scale-bill", billResult)}`);
  }
} finally {
  await media.close();
}
