import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Task } from "../../shared/protocol.ts";
import { flyApp } from "../../test/support/fleet-control.ts";
import { TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "../../test/support/test-secrets.ts";
import { machine, media, post, V } from "../routes/machine-test-helpers.ts";
import { mintMachineCredential } from "../tasks/machine-credential.ts";
import { call, getJob, KEY_A, KEY_B, reportRow, submit } from "../test-helpers.ts";
import type { QueueStats } from "./fair-queue.ts";
import { ShardReports } from "./shard-reports.ts";
import { claimOrder, shardName, shardOfJob, stableHash } from "./shards.ts";
import { queueName } from "./work.ts";

// Runs in the "edge-shards" project: QUEUE_SHARDS=4, a fleet on the fake Fly app "longscribe-shards".
const K = 4;
const fly = flyApp("longscribe-shards");
const shard = (i: number) => env.QUEUE.get(env.QUEUE.idFromName(queueName(shardName(i))));
const directory = () => shard(0);

/** A machine id whose claims start at shard `home`. */
function homedAt(home: number, prefix: string): string {
  for (let i = 0; ; i++) if (claimOrder(`${prefix}-${i}`, K)[0] === home) return `${prefix}-${i}`;
}

/** One claim through the route, as a machine with `token`; its status and tasks. */
async function claimAs(machineId: string, capacity = 1, token: string = TEST_MACHINE_TOKEN): Promise<{ status: number; tasks: Task[] }> {
  const r = await machine("/v1/machine/claim", { ...V, machine_id: machineId, capacity }, token);
  return { status: r.status, tasks: r.status === 200 ? ((await r.json()) as { tasks: Task[] }).tasks : [] };
}

/** Leases whatever other tests left pending, so a test sees only its own jobs. */
async function drain(): Promise<void> {
  for (let i = 0; i < 200 && (await claimAs("drainer", 8)).tasks.length > 0; i++);
}

async function cancelAll(ids: readonly string[], key: string = KEY_A): Promise<void> {
  for (const id of ids) expect((await call("POST", `/v1/transcriptions/${id}/cancel`, { key })).status).toBe(200);
}

async function rowIn(i: number, jobId: string): Promise<boolean> {
  return runInDurableObject(shard(i), (_o, state) => state.storage.sql.exec("SELECT 1 FROM jobs WHERE job_id = ?", jobId).toArray().length > 0);
}

function sum(stats: QueueStats[]): QueueStats {
  const keys = ["jobs", "pending_tasks", "pending_audio_sec", "leased_tasks", "leased_audio_sec", "pending_plans"] as const;
  return Object.fromEntries(keys.map((k) => [k, stats.reduce((s, x) => s + x[k], 0)])) as QueueStats;
}

describe("the queue over QUEUE_SHARDS=4 objects", () => {
  it("spreads ids evenly: jobs by their id, machines' first shard by theirs", () => {
    for (const make of [(i: number) => `tr_${i.toString(32).padStart(24, "0")}`, (i: number) => `vm-${i}`]) {
      const counts = [0, 0, 0, 0];
      for (let i = 0; i < 10_000; i++) counts[stableHash(make(i)) % K]! += 1;
      for (const n of counts) expect(Math.abs(n - 2500)).toBeLessThan(150);
    }
    expect(claimOrder("vm-1", K).toSorted()).toEqual([0, 1, 2, 3]);
    expect(claimOrder("vm-1", 1)).toEqual([0]);
  });

  it("keeps each job's row in its own shard only", async () => {
    const ids = await Promise.all(Array.from({ length: 16 }, async () => (await submit({})).id));
    for (const id of ids) {
      const home = shardOfJob(id, K);
      for (let i = 0; i < K; i++) expect(await rowIn(i, id)).toBe(i === home);
    }
    expect(new Set(ids.map((id) => shardOfJob(id, K))).size).toBeGreaterThan(1);
    await cancelAll(ids);
    for (const id of ids) expect(await rowIn(shardOfJob(id, K), id)).toBe(false);
  });

  it("one machine drains jobs from every shard: each plan and each range handed out exactly once", async () => {
    await drain();
    const ids = await Promise.all(Array.from({ length: 8 }, async () => (await submit({})).id));
    const plans: Task[] = [];
    let calls = 0;
    for (let i = 0; i < 30; i++) {
      calls += 1;
      const { tasks } = await claimAs("m-drain", 1);
      if (tasks.length === 0) break;
      plans.push(...tasks);
    }
    expect(plans.map((t) => t.job_id).toSorted()).toEqual(ids.toSorted());
    for (const plan of plans) {
      const ranges = [0, 1, 2].map((r) => ({ start_sec: r * 40, end_sec: (r + 1) * 40 }));
      expect((await post(plan, "complete", { machine_sec: 1, plan: { duration_sec: 120, ranges, media } })).status).toBe(200);
    }
    // Two machines with different first shards, asking for two ranges at a time.
    const seen: string[] = [];
    for (let i = 0; i < 40; i++) {
      const got = [...(await claimAs(homedAt(1, "m-a"), 2)).tasks, ...(await claimAs(homedAt(2, "m-b"), 2)).tasks];
      if (got.length === 0) break;
      for (const t of got) if (t.kind === "range") seen.push(`${t.job_id}/${t.range_index}`);
    }
    const expected = ids.flatMap((id) => [0, 1, 2].map((r) => `${id}/${r}`));
    const doubled = seen.length - new Set(seen).size;
    const lost = expected.filter((k) => !seen.includes(k)).length;
    await reportRow({
      suite: "queue",
      case: "8 jobs over 4 queue shards, one machine claims their plans, two claim their 24 ranges",
      expected: "every plan and range once (none lost, none twice)",
      observed: `${plans.length} plans in ${calls} claims, ${seen.length} ranges: ${lost} lost, ${doubled} twice`,
      pass: lost === 0 && doubled === 0 && plans.length === 8,
    });
    expect({ lost, doubled, ranges: seen.length }).toEqual({ lost: 0, doubled: 0, ranges: 24 });
    await cancelAll(ids);
  });

  it("sizes the one fleet to every shard's backlog, reported from the shards' alarms", async () => {
    await drain();
    const ids = await Promise.all(Array.from({ length: 8 }, async () => (await submit({})).id));
    for (let i = 1; i < K; i++) await runDurableObjectAlarm(shard(i));
    const each = await Promise.all([0, 1, 2, 3].map((i) => shard(i).stats()));
    const backlog = await directory().backlog();
    expect(backlog).toEqual(sum(each));
    const outsideDirectory = ids.filter((id) => shardOfJob(id, K) !== 0).length;
    expect(backlog.pending_tasks - each[0]!.pending_tasks).toBeGreaterThanOrEqual(outsideDirectory);
    await runDurableObjectAlarm(directory());
    const status = await directory().fleetStatus();
    const expectedDesired = Math.min(8, backlog.pending_tasks + backlog.leased_tasks, Math.max(1, backlog.pending_plans));
    await reportRow({
      suite: "queue",
      case: `8 queued jobs over 4 shards, ${8 - outsideDirectory} of them in the directory's own`,
      expected: `the fleet wants ${expectedDesired} machines (the whole backlog, MAX_MACHINES 8)`,
      observed: `desired ${status.desired}, ${(await fly.machines()).length} machines on the fake Fly app`,
      pass: status.desired === expectedDesired,
    });
    expect(status.desired).toBe(expectedDesired);
    expect(status.desired).toBeGreaterThan(each[0]!.pending_tasks);

    // Drained shards say so once more, then their alarms stop.
    await cancelAll(ids);
    for (let i = 1; i < K; i++) await runDurableObjectAlarm(shard(i));
    expect((await directory().backlog()).pending_tasks).toBe((await directory().stats()).pending_tasks);
    for (let i = 1; i < K; i++) expect(await runDurableObjectAlarm(shard(i))).toBe(false);
  });

  it("counts only shards below QUEUE_SHARDS, and keeps machines a shard reports busy", async () => {
    const report = { jobs: 1, pending_tasks: 0, pending_audio_sec: 0, leased_tasks: 1, leased_audio_sec: 300, pending_plans: 0 };
    await directory().report(3, { ...report, machines: ["m-busy-at-3"] });
    await directory().report(9, { ...report, machines: ["m-at-a-dropped-shard"] });
    const busy = await runInDurableObject(directory(), (_o, state) => new ShardReports(state.storage.sql).busy(K));
    expect(busy).toEqual(["m-busy-at-3"]);
    expect((await directory().backlog()).leased_audio_sec).toBe((await directory().stats()).leased_audio_sec + 300);
    await directory().report(3, { ...report, leased_tasks: 0, leased_audio_sec: 0, jobs: 0, machines: [] });
  });

  it("checks a fleet machine's credential at whichever shard its claim reaches, and prices its work by its type", async () => {
    await drain();
    // Work for the fleet: the directory starts machines on the fake Fly app, each with its own credential.
    const { id } = await submit({});
    await runDurableObjectAlarm(shard(shardOfJob(id, K)));
    await runDurableObjectAlarm(directory());
    const started = (await fly.machines()).filter((m) => m.state === "started");
    const away = started.find((m) => claimOrder(m.id, K)[0] !== 0);
    expect(away, `a fleet machine whose first shard is not the directory among ${started.map((m) => m.id)}`).toBeDefined();
    const credential = away!.config.env.MACHINE_CREDENTIAL!;

    let plan: Task | undefined;
    for (let i = 0; i < 20 && !plan; i++) {
      const answer = await claimAs(away!.id, 1, credential);
      expect(answer.status).not.toBeGreaterThanOrEqual(400);
      plan = answer.tasks.find((t) => t.job_id === id);
    }
    expect(plan).toBeDefined();
    expect((await directory().fleetStatus()).machines.find((m) => m.machine_id === away!.id)?.claimed_at).not.toBeNull();

    // The same credential from another machine id, and one the fleet never issued, at shards other than the directory.
    const other = await claimAs(homedAt(claimOrder(away!.id, K)[0]!, "m-impostor"), 1, credential);
    const forged = await claimAs(homedAt(3, "m-forged"), 1, await mintMachineCredential(TEST_WEBHOOK_SIGNING_KEY, { provider: "fly", name: "never-issued" }));
    expect([other.status, forged.status]).toEqual([403, 401]);

    expect((await post(plan!, "complete", { machine_sec: 1, plan: { duration_sec: 60, ranges: [{ start_sec: 0, end_sec: 60 }], media } })).status).toBe(200);
    let range: Task | undefined;
    for (let i = 0; i < 20 && !range; i++) range = (await claimAs(away!.id, 1, credential)).tasks.find((t) => t.job_id === id);
    expect((await post(range!, "complete", { machine_sec: 30 })).status).toBe(200);
    const job = await getJob(id);
    expect(job.status).toBe("completed");
    expect(job.usage?.machines?.map((m) => [m.provider, m.machine_type])).toEqual([["fly", "performance-8x-16gb"]]);
  });

  it("is fair between keys within each shard: a key with one job is served in the first two claims its shard answers", async () => {
    await drain();
    const a: string[] = [];
    for (let i = 0; i < 24; i++) a.push((await submit({}, { key: KEY_A })).id);
    // B's one job goes where A has the most (older) jobs: served oldest first, it would wait behind all of them.
    const inShard = (s: number) => a.filter((id) => shardOfJob(id, K) === s).length;
    const crowded = [0, 1, 2, 3].reduce((best, s) => (inShard(s) > inShard(best) ? s : best), 0);
    let b = "";
    for (let i = 0; i < 60 && !b; i++) {
      const { id } = await submit({}, { key: KEY_B });
      if (shardOfJob(id, K) === crowded) b = id;
      else await cancelAll([id], KEY_B);
    }
    expect(b).not.toBe("");
    // One machine starting at each shard; each round, every machine claims once.
    const machines = [0, 1, 2, 3].map((h) => homedAt(h, "m-fair"));
    const servedBy: Array<Array<"A" | "B">> = [[], [], [], []];
    let roundOfB = -1;
    for (let round = 0; round < 30 && roundOfB < 0; round++) {
      for (const m of machines) {
        for (const t of (await claimAs(m, 1)).tasks) {
          servedBy[shardOfJob(t.job_id, K)]!.push(t.job_id === b ? "B" : "A");
          if (t.job_id === b) roundOfB = round;
        }
      }
    }
    const inItsShard = servedBy[shardOfJob(b, K)]!.indexOf("B");
    await reportRow({
      suite: "queue",
      case: `key A has 24 queued jobs (${inShard(crowded)} in one shard), key B then 1 in that shard; one machine starts at each shard`,
      expected: "B within the first two claims its shard answers",
      observed: `B was claim ${inItsShard + 1} of its shard, in round ${roundOfB + 1}; per shard: ${servedBy.map((s) => s.join("")).join(" | ")}`,
      pass: inItsShard >= 0 && inItsShard < 2,
    });
    expect(inItsShard).toBeGreaterThanOrEqual(0);
    expect(inItsShard).toBeLessThan(2);
    expect(roundOfB).toBeLessThan(2);
    for (const id of a) await call("POST", `/v1/transcriptions/${id}/cancel`, { key: KEY_A });
    await cancelAll([b], KEY_B);
  });
});
