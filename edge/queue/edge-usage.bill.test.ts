import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Task } from "../../shared/protocol.ts";
import type { Segment } from "../../shared/segment.ts";
import { machine, media, post, V } from "../routes/machine-test-helpers.ts";
import { BASE, call, KEY_A, submit } from "../test-helpers.ts";

/**
 * What each request of a job's life costs the edge in the units Cloudflare bills:
 * Durable Object requests (RPC calls on stubs, alarms set) and SQLite rows read and
 * written (the cursors' own rowsRead / rowsWritten, which are what is billed). Counted
 * here by wrapping, for this test alone, the one SqlStorage prototype every object's
 * SQL goes through and the namespaces' `get`: production code carries no counters.
 *
 * Runs in the "edge-bill" project (its own storage: no other test's jobs in the
 * queue). Prints one `EDGE_USAGE {…}` line that `bench/scale.ts --bill` reads
 * (bench/edge-bill.ts prices it); the assertions are what must hold whatever the
 * schema becomes.
 */

interface OpUsage {
  n: number;
  rows_read: number;
  rows_written: number;
  do_requests: number;
  alarms_set: number;
  /** Wall time in this test (workerd on the test box, everything in one process): to see what grows with the job, not a latency figure. */
  ms: number;
}

const cursors: Array<{ rowsRead: number; rowsWritten: number }> = [];
/** The namespaces' own `get`, for stubs runInDurableObject accepts (the counted ones are proxies). */
let uncountedGet: ((this: unknown, id: DurableObjectId) => DurableObjectStub) | null = null;
let doRequests = 0;
let alarmsSet = 0;

async function install(): Promise<void> {
  await runInDurableObject(env.QUEUE.get(env.QUEUE.idFromName("bill-probe")), (_o, state) => {
    const sqlProto = Object.getPrototypeOf(state.storage.sql) as { exec: (...a: unknown[]) => { rowsRead: number; rowsWritten: number } };
    const exec = sqlProto.exec;
    sqlProto.exec = function (this: unknown, ...args: unknown[]) {
      const cursor = exec.apply(this, args);
      cursors.push(cursor);
      return cursor;
    };
    const storageProto = Object.getPrototypeOf(state.storage) as { setAlarm: (...a: unknown[]) => Promise<void> };
    const setAlarm = storageProto.setAlarm;
    storageProto.setAlarm = function (this: unknown, ...args: unknown[]) {
      alarmsSet += 1;
      return setAlarm.apply(this, args);
    };
  });
  const nsProto = Object.getPrototypeOf(env.JOBS) as { get: (...a: unknown[]) => object };
  const get = nsProto.get;
  uncountedGet = get as typeof uncountedGet;
  nsProto.get = function (this: unknown, ...args: unknown[]) {
    const stub = get.apply(this, args);
    return new Proxy(stub, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function" || prop === "then" || typeof prop !== "string") return value;
        return (...callArgs: unknown[]) => {
          doRequests += 1;
          // Not value.apply(…): on an RPC stub, `apply` would be a remote method of that name.
          return Reflect.apply(value as (...a: unknown[]) => unknown, target, callArgs);
        };
      },
    });
  };
}

class Meter {
  readonly ops: Record<string, OpUsage> = {};
  async time<T>(kind: string, fn: () => Promise<T>): Promise<T> {
    const c0 = cursors.length;
    const d0 = doRequests;
    const a0 = alarmsSet;
    const t0 = performance.now();
    const value = await fn();
    const op = (this.ops[kind] ??= { n: 0, rows_read: 0, rows_written: 0, do_requests: 0, alarms_set: 0, ms: 0 });
    op.n += 1;
    op.ms += performance.now() - t0;
    for (const c of cursors.splice(c0)) {
      op.rows_read += c.rowsRead;
      op.rows_written += c.rowsWritten;
    }
    op.do_requests += doRequests - d0;
    op.alarms_set += alarmsSet - a0;
    return value;
  }
}

const SEGMENT_SEC = 4;
const PER_POST = 16;
const RANGE_SEC = 300;

function segments(t: Extract<Task, { kind: "range" }>, from: number, to: number): Segment[] {
  return Array.from({ length: to - from }, (_, i) => {
    const start = t.start_sec + (from + i) * SEGMENT_SEC;
    return {
      start_sec: start,
      end_sec: Math.min(t.end_sec, start + SEGMENT_SEC - 0.2),
      text: `r${t.range_index}k${from + i} and some words a speaker would say in four seconds or so`,
      language: "en",
      avg_logprob: -0.2,
      no_speech_prob: 0.01,
      compression_ratio: 1.4,
    };
  });
}

async function claim(m: Meter, kind: string, machineId: string): Promise<Task[]> {
  return m.time(kind, async () => {
    const r = await machine("/v1/machine/claim", { ...V, machine_id: machineId, capacity: 1 });
    return r.status === 204 ? [] : ((await r.json()) as { tasks: Task[] }).tasks;
  });
}

async function ok(r: Promise<Response>): Promise<void> {
  const response = await r;
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  await response.arrayBuffer();
}

/** A client reading the events route until told to stop, once its stream has started; how many segments it saw. */
async function follow(jobId: string) {
  const response = await SELF.fetch(`${BASE}/v1/transcriptions/${jobId}/events`, {
    headers: { authorization: `Bearer ${KEY_A}`, accept: "text/event-stream" },
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let stop = false;
  let seen = 0;
  let tail = "";
  let next = reader.read();
  // The first bytes: the route has caught up (nothing merged yet) and listens.
  await Promise.race([next, new Promise((r) => setTimeout(r, 1000))]);
  const reading = (async () => {
    while (!stop) {
      const read = await Promise.race([next, new Promise<null>((r) => setTimeout(() => r(null), 50))]);
      if (read === null) continue;
      if (read.done) break;
      // A chunk may cut a field name in two: count over the end of the last chunk too.
      const text = tail + decoder.decode(read.value, { stream: true });
      seen += (text.match(/"start_sec"/g) ?? []).length;
      tail = text.slice(-12).includes('"') ? text.slice(text.lastIndexOf('"')) : "";
      next = reader.read();
    }
    await reader.cancel().catch(() => undefined);
  })();
  return {
    seen: () => seen,
    close: async () => {
      stop = true;
      await reading;
    },
  };
}

/**
 * One job of `hours` from submit to its transcript, polled (job P) and followed
 * (job F) side by side: every machine request, each poll of P's status after each
 * range, P's transcript read at the end, F's stream open from submit to the end.
 */
async function lifeOf(hours: number): Promise<{ ranges: number; ops: Record<string, OpUsage>; database_bytes: number }> {
  const m = new Meter();
  const ranges = (hours * 3600) / RANGE_SEC;
  const p = await m.time("create", () => submit({}));
  const f = await m.time("create", () => submit({}));
  const stream = await m.time("events_open", () => follow(f.id));
  await m.time("status", () => ok(call("GET", `/v1/transcriptions/${p.id}`)));
  for (const id of [p.id, f.id]) {
    const [plan] = await claim(m, "plan_claim", `bill-${hours}h`);
    expect(plan?.job_id).toBe(id);
    const planned = Array.from({ length: ranges }, (_, i) => ({ start_sec: i * RANGE_SEC, end_sec: (i + 1) * RANGE_SEC }));
    await m.time("plan_complete", () =>
      ok(post(plan!, "complete", { machine_sec: 1, plan: { duration_sec: hours * 3600, ranges: planned, media: { ...media, duration_sec: hours * 3600 } } })),
    );
  }
  for (let r = 0; r < ranges; r++) {
    for (const job of [p.id, f.id]) {
      const followed = job === f.id;
      const [t] = await claim(m, "range_claim", `bill-${hours}h`);
      expect(t?.kind === "range" && t.job_id === job).toBe(true);
      const task = t as Extract<Task, { kind: "range" }>;
      const total = Math.ceil(RANGE_SEC / SEGMENT_SEC);
      for (let seq = 0; seq * PER_POST < total; seq++) {
        const body = { seq, segments: segments(task, seq * PER_POST, Math.min(total, (seq + 1) * PER_POST)), audio_sec_done: 0 };
        await m.time(followed ? "post_followed" : "post", () => ok(post(task, "segments", body)));
      }
      await m.time(followed ? "heartbeat_followed" : "heartbeat", () => ok(post(task, "heartbeat", {})));
      await m.time(followed ? "range_complete_followed" : "range_complete", () => ok(post(task, "complete", { machine_sec: 1 })));
      if (!followed) await m.time("status", () => ok(call("GET", `/v1/transcriptions/${p.id}`)));
    }
  }
  await claim(m, "empty_claim", `bill-${hours}h`);
  await claim(m, "empty_claim", `bill-${hours}h-other`);
  await m.time("transcript", () => ok(call("GET", `/v1/transcriptions/${p.id}/transcript?format=json`)));
  // The follower has every segment of F by the end: the stream, not a read, carried the transcript.
  const expected = ranges * Math.ceil(RANGE_SEC / SEGMENT_SEC);
  for (let i = 0; i < 100 && stream.seen() < expected; i++) await new Promise((r) => setTimeout(r, 50));
  expect(stream.seen()).toBe(expected);
  await stream.close();
  const database_bytes = await runInDurableObject(uncountedGet!.call(env.JOBS, env.JOBS.idFromName(p.id)), (_o, state) => state.storage.sql.databaseSize);
  return { ranges, ops: m.ops, database_bytes };
}

describe("what a job's requests cost the edge in billed units (printed for bench/edge-bill.ts)", () => {
  // Two job sizes give each operation's cost as a line in the job's ranges (bench/edge-bill.ts); larger jobs
  // are not run here: in this harness every request slows as one test goes on (a 4-hour job took 63 s, a 1-hour one 4 s).
  it("counts rows and Durable Object requests per operation over 1-hour and 2-hour jobs", async () => {
    await install();
    const byHours: Record<string, Awaited<ReturnType<typeof lifeOf>>> = {};
    for (const hours of [1, 2]) byHours[String(hours)] = await lifeOf(hours);
    console.log(`EDGE_USAGE ${JSON.stringify(byHours)}`);
    for (const { ops } of Object.values(byHours)) {
      const per = (k: string) => ({
        read: ops[k]!.rows_read / ops[k]!.n,
        written: ops[k]!.rows_written / ops[k]!.n,
        requests: ops[k]!.do_requests / ops[k]!.n,
      });
      // Nothing is written by asking an empty queue; a claim reaches the queue and the job it leases from.
      expect(per("empty_claim").written).toBe(0);
      expect(per("range_claim").requests).toBeGreaterThanOrEqual(2);
      // A post writes at least its segments; a status read writes nothing.
      expect(per("post").written).toBeGreaterThanOrEqual(PER_POST - 1);
      expect(per("status").written).toBe(0);
      // The transcript read reads at least every segment once.
      expect(ops.transcript!.rows_read).toBeGreaterThanOrEqual(ops.post!.n * (PER_POST - 1));
    }
  }, 300_000);
});
