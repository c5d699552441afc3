import { DurableObject } from "cloudflare:workers";
import type { Task } from "../../shared/protocol.ts";
import { jobStub } from "../job-stubs.ts";

/** A task as the job object hands it out; the claim route adds the task token. */
export type UnsignedTask = Task extends infer T ? (T extends Task ? Omit<T, "task_token"> : never) : never;

export interface JobWork {
  /** Tasks the job could hand out now. */
  pending: number;
  /** Seconds of audio in those tasks (0 for a plan), for sizing the fleet. */
  pending_audio_sec: number;
}

export type QueueStats = {
  jobs: number;
  pending_tasks: number;
  pending_audio_sec: number;
};

/**
 * The work queue: which jobs have tasks to hand out, in fair order. It holds no
 * tasks itself: each job object owns its ranges and leases and is asked for its
 * next task at claim time, so the queue can never hand out work a job has
 * already given away. Jobs take turns (the least recently served first, never
 * served before all others, oldest job first among equals), so one job with
 * 200 ranges does not starve a job with one.
 *
 * Named by shard (`queue:default`); the key leaves room for one queue per
 * model and region when one object's claim rate is not enough.
 */
export class WorkQueue extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS jobs (
      job_id TEXT PRIMARY KEY,
      pending INTEGER NOT NULL,
      pending_audio_sec REAL NOT NULL,
      created_at INTEGER NOT NULL,
      last_served_at INTEGER
    )`);
  }

  /** A job tells the queue what it has to hand out (0 removes it). */
  async update(jobId: string, createdAt: number, work: JobWork): Promise<void> {
    this.write(jobId, createdAt, work, null);
  }

  async claim(machineId: string, capacity: number, leaseSec: number): Promise<UnsignedTask[]> {
    const tasks: UnsignedTask[] = [];
    const exhausted = new Set<string>();
    while (tasks.length < capacity) {
      const next = this.ctx.storage.sql
        .exec<{ job_id: string; created_at: number }>(
          `SELECT job_id, created_at FROM jobs WHERE pending > 0
           ORDER BY last_served_at IS NOT NULL, last_served_at, created_at, job_id`,
        )
        .toArray()
        .find((row) => !exhausted.has(row.job_id));
      if (!next) break;
      const answer = await jobStub(this.env, next.job_id).leaseNext(machineId, leaseSec);
      if (!answer.ok) {
        this.ctx.storage.sql.exec("DELETE FROM jobs WHERE job_id = ?", next.job_id);
        continue;
      }
      const { task, work } = answer.value;
      this.write(next.job_id, next.created_at, work, task ? Date.now() : null);
      if (task) tasks.push(task);
      else exhausted.add(next.job_id);
    }
    return tasks;
  }

  async stats(): Promise<QueueStats> {
    return this.ctx.storage.sql
      .exec<QueueStats>("SELECT COUNT(*) AS jobs, COALESCE(SUM(pending), 0) AS pending_tasks, COALESCE(SUM(pending_audio_sec), 0) AS pending_audio_sec FROM jobs WHERE pending > 0")
      .one();
  }

  private write(jobId: string, createdAt: number, work: JobWork, servedAt: number | null): void {
    if (work.pending <= 0) {
      this.ctx.storage.sql.exec("DELETE FROM jobs WHERE job_id = ?", jobId);
      return;
    }
    this.ctx.storage.sql.exec(
      `INSERT INTO jobs (job_id, pending, pending_audio_sec, created_at, last_served_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (job_id) DO UPDATE SET pending = excluded.pending, pending_audio_sec = excluded.pending_audio_sec,
         last_served_at = COALESCE(excluded.last_served_at, jobs.last_served_at)`,
      jobId, work.pending, work.pending_audio_sec, createdAt, servedAt,
    );
  }
}
