import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Segment } from "../../shared/segment.ts";
import { unwrap } from "../errors.ts";
import { jobStub } from "../job-stubs.ts";
import type { JobObject } from "./job-object.ts";

/** Test helpers that play the machine's side against a job object over RPC. */

export function stubFor(jobId: string) {
  return jobStub(env, jobId);
}

/**
 * A job made on its object directly, as the create route would but without a
 * request, with options as a job stored before any later option existed.
 */
export async function createStoredJob(jobId: string, owner: string): Promise<void> {
  unwrap(
    await jobStub(env, jobId).create({
      id: jobId,
      owner,
      created_at: Date.now(),
      upload_id: null,
      audio_url: "https://media.test/audio.mp3",
      options: { language: "auto", macro_chunk_sec: 300, micro_chunk_sec: 30, word_timestamps: false },
      webhook: null,
      metadata: null,
      media: { size_bytes: 1000, content_type: "audio/mpeg", etag: null, last_modified: null },
    }),
  );
}

export function seg(start: number, end: number, text: string, language = "en"): Segment {
  return { start_sec: start, end_sec: end, text, language, avg_logprob: -0.2, no_speech_prob: 0.01 };
}

export async function plan(jobId: string, ranges: Array<[number, number]>) {
  const stub = stubFor(jobId);
  const task = unwrap(await stub.startPlan("machine-planner", 60));
  const duration = ranges.length > 0 ? ranges[ranges.length - 1]![1] : 0;
  unwrap(
    await stub.submitPlan(
      task.attempt,
      duration,
      ranges.map(([start_sec, end_sec]) => ({ start_sec, end_sec })),
      2,
    ),
  );
  return task;
}

export async function leaseNext(jobId: string, machine = "machine-1") {
  const task = unwrap(await stubFor(jobId).leaseRange(machine, 60));
  if (!task) throw new Error("no range to lease");
  return task;
}

function objectOf(jobId: string) {
  return env.JOBS.get(env.JOBS.idFromName(jobId));
}

/**
 * Waits until no alarm is running: the runtime fires a due alarm by itself,
 * and while it runs none is scheduled. Returns the alarm time and the number
 * of deadlines left.
 */
export async function waitForIdleAlarm(jobId: string): Promise<{ alarm: number | null; pending: number }> {
  for (let i = 0; i < 300; i++) {
    const state = await runInDurableObject(objectOf(jobId), async (_o, s) => ({
      alarm: await s.storage.getAlarm(),
      pending: s.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM deadlines").one().n,
    }));
    if (state.alarm !== null || state.pending === 0) return state;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`job ${jobId} has deadlines but no alarm set`);
}

/** Moves the job object's clock (deadlines.ts: Clock) forward by `ms`, as if that time had passed. */
export async function advanceClock(jobId: string, ms: number): Promise<void> {
  await runInDurableObject(objectOf(jobId), (instance: JobObject) => {
    instance.clock.offsetMs += ms;
  });
}

/**
 * Moves the job object's clock (deadlines.ts: Clock) to its earliest deadline and runs
 * the alarm, as the runtime would once that time came. Returns whether an alarm ran.
 */
export async function runNextDeadline(jobId: string): Promise<boolean> {
  await runInDurableObject(objectOf(jobId), (instance: JobObject, state) => {
    const earliest = state.storage.sql.exec<{ due: number | null }>("SELECT MIN(due) AS due FROM deadlines").one().due;
    if (earliest !== null) instance.clock.offsetMs += Math.max(0, earliest - instance.clock.now());
  });
  return runDurableObjectAlarm(objectOf(jobId));
}

/** Runs deadlines until none is left (bounded), as the runtime would over time. Returns the runs. */
export async function drainAlarms(jobId: string, max = 200): Promise<number> {
  let runs = 0;
  while (runs < max) {
    if ((await waitForIdleAlarm(jobId)).pending === 0) break;
    if (await runNextDeadline(jobId)) runs++;
  }
  return runs;
}
