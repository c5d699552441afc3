import { z } from "zod";

/**
 * The edge's own bill for one job, from what its requests were measured to cost
 * (edge/queue/edge-usage.bill.test.ts counts rows and object requests per
 * operation in workerd) and how many of each operation a job of a given length
 * makes. Pure: `bench/scale.ts --bill` feeds it measurements and writes the
 * result; test/edge-bill.test.ts checks the arithmetic.
 */

/** Cloudflare's list prices, Workers Paid plan, as known in December 2026; the included amounts are per month per account. */
export const CLOUDFLARE_PRICES = {
  source: "Cloudflare Workers & Durable Objects pricing pages (Workers Paid), list prices as known in December 2026",
  worker_requests_per_million: 0.3,
  worker_requests_included: 10_000_000,
  do_requests_per_million: 0.15,
  do_requests_included: 1_000_000,
  do_gb_s_per_million: 12.5,
  do_gb_s_included: 400_000,
  rows_read_per_million: 0.001,
  rows_read_included: 25_000_000_000,
  rows_written_per_million: 1.0,
  rows_written_included: 50_000_000,
  storage_gb_month: 0.2,
  storage_gb_included: 5,
  /** Durable Objects bill duration at 128 MB per object, whatever it uses. */
  do_memory_gb: 0.128,
} as const;
export type Prices = { [K in keyof typeof CLOUDFLARE_PRICES]: (typeof CLOUDFLARE_PRICES)[K] extends number ? number : string };

/** One operation as the workerd test counted it over a whole job: totals over `n` calls. */
export const OpUsage = z.object({
  n: z.number().int().positive(),
  rows_read: z.number().nonnegative(),
  rows_written: z.number().nonnegative(),
  do_requests: z.number().nonnegative(),
  alarms_set: z.number().nonnegative(),
});
export type OpUsage = z.infer<typeof OpUsage>;

/** The test's `EDGE_USAGE` line: per job length in hours, per operation; and the job object's database size. */
export const EdgeUsage = z.record(
  z.string(),
  z.object({ ops: z.record(z.string(), OpUsage), database_bytes: z.number().nonnegative(), ranges: z.number().int().positive() }),
);
export type EdgeUsage = z.infer<typeof EdgeUsage>;

/** Per-call cost of an operation at `ranges` ranges: a straight line through the two measured job sizes (reads of a job's ranges grow with them). */
export interface PerCall {
  rows_read: number;
  rows_written: number;
  do_requests: number;
}

export function perCall(usage: EdgeUsage, op: string, ranges: number): PerCall {
  const sizes = Object.values(usage)
    .filter((u) => u.ops[op])
    .sort((a, b) => a.ranges - b.ranges);
  if (sizes.length === 0) throw new Error(`no measurement of ${op}`);
  const mean = (u: (typeof sizes)[number], f: (o: OpUsage) => number) => f(u.ops[op]!) / u.ops[op]!.n;
  const line = (f: (o: OpUsage) => number) => {
    const lo = sizes[0]!;
    const hi = sizes.at(-1)!;
    if (hi.ranges === lo.ranges) return mean(lo, f);
    const slope = (mean(hi, f) - mean(lo, f)) / (hi.ranges - lo.ranges);
    return Math.max(0, mean(lo, f) + slope * (ranges - lo.ranges));
  };
  // Setting an alarm on a SQLite-backed object is billed as a row written.
  return { rows_read: line((o) => o.rows_read), rows_written: line((o) => o.rows_written + o.alarms_set), do_requests: line((o) => o.do_requests) };
}

export interface Scenario {
  audio_hours: number;
  client: "poll" | "follow";
  /** Seconds between a polling client's status reads. */
  poll_sec: number;
  /** Simulated machine speed (× real time), as in the scale bench. */
  rtf: number;
  range_sec: number;
  segment_sec: number;
  segments_per_post: number;
  lease_sec: number;
  /** The fleet's sizing rule (wrangler.toml production): one machine per this much audio, at most max_machines. */
  audio_sec_per_machine: number;
  max_machines: number;
  /** Seconds of planning per audio hour before ranges start. */
  plan_sec_per_audio_hour: number;
  /** A machine polls with backoff until this long without work, then exits. */
  idle_exit_sec: number;
  /** Queue shards an empty claim asks (QUEUE_SHARDS). */
  shards: number;
  /** An object stays billed this long after its last request (assumed; objects without open sockets leave memory soon after). */
  awake_after_sec: number;
  /** $/h of the machine type, for the machine cost beside the edge's. */
  machine_usd_per_hour: number;
}

/** Empty claims a machine makes from its last task to its exit: 200 ms, doubling to 2 s (gpu-machine/runtime/machine.ts). */
export function idlePolls(idleExitSec: number): number {
  let waited = 0;
  let polls = 0;
  while (waited < idleExitSec * 1000) {
    polls += 1;
    waited += Math.min(2_000, 100 * 2 ** Math.min(polls, 5));
  }
  return polls;
}

export interface Bill {
  audio_hours: number;
  client: Scenario["client"];
  poll_sec: number;
  ranges: number;
  machines: number;
  wall_sec: number;
  worker_requests: number;
  do_requests: number;
  do_gb_s: number;
  rows_read: number;
  rows_written: number;
  storage_bytes: number;
  usd: { worker_requests: number; do_requests: number; do_duration: number; rows_read: number; rows_written: number; storage_month: number };
  edge_usd: number;
  edge_usd_per_audio_hour: number;
  machine_usd_per_audio_hour: number;
}

/** The edge's bill for one job of `s.audio_hours`, at list prices beyond the included amounts. */
export function edgeBill(usage: EdgeUsage, s: Scenario, prices: Prices = CLOUDFLARE_PRICES): Bill {
  const audioSec = s.audio_hours * 3600;
  const ranges = Math.ceil(audioSec / s.range_sec);
  const machines = Math.max(1, Math.min(s.max_machines, Math.ceil(audioSec / s.audio_sec_per_machine)));
  const rangeWallSec = s.range_sec / s.rtf;
  const planSec = s.plan_sec_per_audio_hour * s.audio_hours;
  const wallSec = planSec + Math.ceil(ranges / machines) * rangeWallSec;
  const postsPerRange = Math.ceil(s.range_sec / s.segment_sec / s.segments_per_post);
  const heartbeatsPerRange = Math.floor(rangeWallSec / (s.lease_sec / 3));
  const followed = s.client === "follow";
  const polls = followed ? 0 : Math.ceil(wallSec / s.poll_sec);
  const idle = machines * idlePolls(s.idle_exit_sec);

  // Operation → calls in this job (each one Worker request).
  const calls: Array<[string, number]> = [
    ["create", 1],
    ["plan_claim", 1],
    ["plan_complete", 1],
    ["range_claim", ranges],
    [followed ? "post_followed" : "post", ranges * postsPerRange],
    [followed ? "heartbeat_followed" : "heartbeat", ranges * heartbeatsPerRange],
    [followed ? "range_complete_followed" : "range_complete", ranges],
    ["empty_claim", idle],
    ...(followed
      ? ([["events_open", 1]] as Array<[string, number]>)
      : ([
          ["status", polls],
          ["transcript", 1],
        ] as Array<[string, number]>)),
  ];
  let rowsRead = 0;
  let rowsWritten = 0;
  let doRequests = 0;
  let workerRequests = machines; // each machine's exit notice
  for (const [op, n] of calls) {
    if (n === 0) continue;
    const c = perCall(usage, op, ranges);
    rowsRead += n * c.rows_read;
    rowsWritten += n * c.rows_written;
    // An empty claim asks every shard.
    doRequests += n * c.do_requests * (op === "empty_claim" ? s.shards : 1);
    workerRequests += n;
  }
  // The exit notices reach the directory; the directory ticks every 10 s while there is work, each shard reports as often.
  const ticks = Math.ceil(wallSec / 10) * s.shards;
  doRequests += machines + ticks;

  // Awake: the job object and its queue shard while machines work on it (requests far less than a second apart);
  // a polling client keeps the job object awake for as long as it polls, which is the same span; the key index
  // object briefly at submit and at the end. With a follower the job object hibernates between merges.
  const awakeSec = 2 * (wallSec + s.awake_after_sec) + 2 * s.awake_after_sec;
  const gbS = awakeSec * prices.do_memory_gb;

  const sizes = Object.values(usage).sort((a, b) => a.ranges - b.ranges);
  const lo = sizes[0]!;
  const hi = sizes.at(-1)!;
  const bytesPerRange = hi.ranges === lo.ranges ? lo.database_bytes / lo.ranges : (hi.database_bytes - lo.database_bytes) / (hi.ranges - lo.ranges);
  const storageBytes = Math.max(0, lo.database_bytes + bytesPerRange * (ranges - lo.ranges));

  const usd = {
    worker_requests: (workerRequests / 1e6) * prices.worker_requests_per_million,
    do_requests: (doRequests / 1e6) * prices.do_requests_per_million,
    do_duration: (gbS / 1e6) * prices.do_gb_s_per_million,
    rows_read: (rowsRead / 1e6) * prices.rows_read_per_million,
    rows_written: (rowsWritten / 1e6) * prices.rows_written_per_million,
    storage_month: (storageBytes / 1e9) * prices.storage_gb_month,
  };
  const edgeUsd = Object.values(usd).reduce((a, b) => a + b, 0);
  const machineSec = planSec + ranges * rangeWallSec + machines * s.idle_exit_sec;
  return {
    audio_hours: s.audio_hours,
    client: s.client,
    poll_sec: s.poll_sec,
    ranges,
    machines,
    wall_sec: wallSec,
    worker_requests: workerRequests,
    do_requests: Math.round(doRequests),
    do_gb_s: gbS,
    rows_read: Math.round(rowsRead),
    rows_written: Math.round(rowsWritten),
    storage_bytes: Math.round(storageBytes),
    usd,
    edge_usd: edgeUsd,
    edge_usd_per_audio_hour: edgeUsd / s.audio_hours,
    machine_usd_per_audio_hour: ((machineSec / 3600) * s.machine_usd_per_hour) / s.audio_hours,
  };
}

/** The bill as a markdown table (bench/report.ts and the README show it). */
export function billTable(bills: readonly Bill[]): string {
  const head = [
    "job",
    "client",
    "Worker req",
    "DO req",
    "DO GB-s",
    "rows read",
    "rows written",
    "edge $/audio h",
    "of which rows written",
    "machine $/audio h",
  ];
  const rows = bills.map((b) => [
    `${b.audio_hours} h (${b.ranges} ranges, ${b.machines} machine${b.machines === 1 ? "" : "s"}, ${b.wall_sec.toFixed(0)} s)`,
    b.client === "poll" ? `polls every ${b.poll_sec} s` : "follows /events",
    String(b.worker_requests),
    String(b.do_requests),
    b.do_gb_s.toFixed(1),
    String(b.rows_read),
    String(b.rows_written),
    b.edge_usd_per_audio_hour.toFixed(5),
    `${((100 * b.usd.rows_written) / b.edge_usd).toFixed(0)} %`,
    b.machine_usd_per_audio_hour.toFixed(4),
  ]);
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** What `bench/scale.ts --bill` writes (bench/results/scale-bill.json), as much as the report reads. */
export interface BillResult {
  date: string;
  commit: string;
  prices: Prices;
  scenario: Omit<Scenario, "audio_hours" | "client">;
  bills: Bill[];
}

/** The bill with what it assumes and the prices it uses, for bench/README.md's cost section and the README. */
export function billSection(r: BillResult): string {
  const p = r.prices;
  const s = r.scenario;
  return [
    `**The edge's own bill** (Cloudflare; \`npm run bench:scale -- --bill\`, \`bench/results/scale-bill.json\`, run ${r.date.slice(0, 16).replace("T", " ")} UTC, commit ${r.commit}). ` +
      "Rows read and written and Durable Object requests per operation are counted in workerd over whole 1- and 2-hour jobs " +
      "(`edge/queue/edge-usage.bill.test.ts`; each operation's cost is a line in the job's ranges, checked once by hand against a 4-hour job), " +
      `times the operations a job makes: ${s.range_sec} s ranges, a post per ${s.segments_per_post} segments of ${s.segment_sec} s, machines at ${s.rtf}× real time, ` +
      `a machine per ${s.audio_sec_per_machine} s of audio up to ${s.max_machines}, ${s.plan_sec_per_audio_hour} s of plan per audio hour, each machine polling ${s.idle_exit_sec} s ` +
      `idle before it exits, ${s.shards} queue shard${s.shards === 1 ? "" : "s"}. Objects are billed awake while the job runs and ${s.awake_after_sec} s after (an assumption). ` +
      `Prices: ${p.source}; Workers $${p.worker_requests_per_million.toFixed(2)}/M requests beyond ${p.worker_requests_included / 1e6} M, ` +
      `Durable Objects $${p.do_requests_per_million.toFixed(2)}/M requests beyond ${p.do_requests_included / 1e6} M and $${p.do_gb_s_per_million.toFixed(2)}/M GB-s beyond ${p.do_gb_s_included.toLocaleString("en-US")} GB-s (${p.do_memory_gb * 1000} MB per object), ` +
      `SQLite $${p.rows_read_per_million}/M rows read beyond ${p.rows_read_included / 1e9} B and $${p.rows_written_per_million.toFixed(2)}/M rows written beyond ${p.rows_written_included / 1e6} M, ` +
      `storage $${p.storage_gb_month.toFixed(2)}/GB-month beyond ${p.storage_gb_included} GB (the job object's database, kept one month). The included amounts are per month per account; the bill is priced at the marginal rate, as if they were spent. ` +
      `Machine column: the job's own machine time (ranges, plan, idle tail) at $${s.machine_usd_per_hour}/h.`,
    "",
    billTable(r.bills),
  ].join("\n");
}
