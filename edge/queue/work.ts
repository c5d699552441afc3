import type { MachineLabel } from "../../shared/api.ts";
import type { Task } from "../../shared/protocol.ts";
import { ApiError } from "../errors.ts";
import type { Result } from "../errors.ts";
import { JOB_ID_PATTERN } from "../../shared/ids.ts";
import { readConfig } from "../config.ts";
import { DIRECTORY_SHARD, shardName, shardOfJob } from "./shards.ts";

/**
 * The contract between job objects and the work queue, in neither side's
 * file: what a job tells the queue, what the queue asks a job, and the two
 * narrow stubs they reach each other by. Neither object imports the other.
 */

/** A task as the job object hands it out; the claim route adds the task token. */
/**
 * A task as the job hands it out: without its token, and with the upload it
 * reads (if any), whose URL the route signs (routes/machine.ts) before a
 * machine sees it.
 */
export type UnsignedTask = Task extends infer T ? (T extends Task ? Omit<T, "task_token"> & { upload_id: string | null } : never) : never;
export type UnsignedPlanTask = Extract<UnsignedTask, { kind: "plan" }>;
export type UnsignedRangeTask = Extract<UnsignedTask, { kind: "range" }>;

export interface JobWork {
  /** Tasks the job could hand out now. */
  pending: number;
  /** Seconds of audio in those tasks (0 for a plan), for sizing the fleet. */
  pending_audio_sec: number;
  /** Tasks machines hold now, and their audio: work still in flight. */
  leased: number;
  leased_audio_sec: number;
  /** Machines holding this job's leases: busy, so never retired as idle. */
  machines: string[];
}

export const NO_WORK: JobWork = { pending: 0, pending_audio_sec: 0, leased: 0, leased_audio_sec: 0, machines: [] };

/** What the queue asks of a job object. */
export interface JobForQueue {
  /** The next task of this job for a machine, and what is left after it. */
  leaseNext(machineId: string, leaseSec: number, machine: MachineLabel): Promise<Result<{ task: UnsignedTask | null; work: JobWork }>>;
  /** The job's work now, leasing nothing: how the queue checks a row no job has updated for a while. */
  currentWork(): Promise<JobWork>;
}

/** What a job object tells the queue. */
export interface QueueForJobs {
  /** The job's work now (none removes it); `owner`, its API key, for fairness between keys. */
  update(jobId: string, owner: string, createdAt: number, work: JobWork): Promise<void>;
}

/** The Durable Object id of job `jobId`; an id `newId("tr")` never made is no transcription. */
export function jobObjectId(env: Env, jobId: string): DurableObjectId {
  if (!JOB_ID_PATTERN.test(jobId)) throw new ApiError(404, "not_found", "no such transcription");
  return env.JOBS.idFromName(jobId);
}

/** The job object named `jobId`, as the queue sees it. */
export function jobForQueue(env: Env, jobId: string): JobForQueue {
  return env.JOBS.get(jobObjectId(env, jobId)) as unknown as JobForQueue;
}

/** The work queue of job `jobId`'s shard (QUEUE_SHARDS), as job objects see it: everything a job tells the queue goes there. */
export function queueForJobs(env: Env, jobId: string): QueueForJobs {
  const shard = shardName(shardOfJob(jobId, readConfig(env).queueShards));
  return env.QUEUE.get(env.QUEUE.idFromName(queueName(shard))) as unknown as QueueForJobs;
}

/** Shard 0's name: the queue and fleet as they were before shards, and the directory of the others. */
export const DEFAULT_SHARD = shardName(DIRECTORY_SHARD);

export function queueName(shard: string): string {
  return `queue:${shard}`;
}
