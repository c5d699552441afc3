import { DurableObject } from "cloudflare:workers";
import type { Task } from "../../shared/protocol.ts";
import { readConfig } from "../config.ts";
import { jobStub } from "../job-stubs.ts";
import { providersFor } from "../machines/providers.ts";
import { Fleet, type FleetStatus } from "./fleet.ts";

/** A task as the job object hands it out; the claim route adds the task token. */
export type UnsignedTask = Task extends infer T ? (T extends Task ? Omit<T, "task_token"> : never) : never;

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

export type QueueStats = {
  jobs: number;
  pending_tasks: number;
  pending_audio_sec: number;
  leased_tasks: number;
  leased_audio_sec: number;
  pending_plans: number;
};

export type { FleetStatus };

/** Reconcile ticks while there is work or a machine to watch; none when idle (an idle deployment costs nothing). */
const RECONCILE_MS = 10_000;

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
  private readonly fleet: Fleet;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS jobs (
      job_id TEXT PRIMARY KEY,
      pending INTEGER NOT NULL,
      pending_audio_sec REAL NOT NULL,
      created_at INTEGER NOT NULL,
      last_served_at INTEGER,
      leased INTEGER NOT NULL DEFAULT 0,
      leased_audio_sec REAL NOT NULL DEFAULT 0,
      machines TEXT NOT NULL DEFAULT '[]'
    )`);
    const columns = ctx.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('jobs')").toArray().map((c) => c.name);
    if (!columns.includes("leased")) {
      // Queues created before machines were started on demand.
      ctx.storage.sql.exec("ALTER TABLE jobs ADD COLUMN leased INTEGER NOT NULL DEFAULT 0");
      ctx.storage.sql.exec("ALTER TABLE jobs ADD COLUMN leased_audio_sec REAL NOT NULL DEFAULT 0");
    }
    // Queues created before idle machines were retired by the edge.
    if (!columns.includes("machines")) ctx.storage.sql.exec("ALTER TABLE jobs ADD COLUMN machines TEXT NOT NULL DEFAULT '[]'");
    this.fleet = new Fleet(ctx.storage.sql);
  }

  /** A job tells the queue what it has to hand out (0 removes it). */
  async update(jobId: string, createdAt: number, work: JobWork): Promise<void> {
    this.write(jobId, createdAt, work, null);
    if (work.pending > 0) await this.reconcileSoon();
  }

  async claim(machineId: string, capacity: number, leaseSec: number): Promise<UnsignedTask[]> {
    const config = readConfig(this.env);
    // What the task runs on, priced now: usage keeps the price the work was done at.
    const machine = this.fleet.label(machineId, config.machinePricePerHourUsd);
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
      const answer = await jobStub(this.env, next.job_id).leaseNext(machineId, leaseSec, machine);
      if (!answer.ok) {
        this.ctx.storage.sql.exec("DELETE FROM jobs WHERE job_id = ?", next.job_id);
        continue;
      }
      const { task, work } = answer.value;
      this.write(next.job_id, next.created_at, work, task ? Date.now() : null);
      if (task) tasks.push(task);
      else exhausted.add(next.job_id);
    }
    this.fleet.claimed(machineId, tasks.length > 0, Date.now());
    return tasks;
  }

  /** A machine says it is exiting (idle): its provider is told to end it at once, whatever it does with exited processes. */
  async machineExiting(machineId: string): Promise<boolean> {
    const known = this.fleet.exiting(machineId, Date.now());
    if (known) await this.reconcileSoon();
    return known;
  }

  async stats(): Promise<QueueStats> {
    return this.work();
  }

  async fleetStatus(): Promise<FleetStatus> {
    return this.fleet.status();
  }

  /** The reconcile loop: size the fleet to the work, and retire what is not needed, from the alarm. */
  override async alarm(): Promise<void> {
    const config = readConfig(this.env);
    const fleet = config.fleet;
    if (!fleet) return;
    const now = Date.now();
    try {
      await this.fleet.reconcile(providersFor(fleet), fleet, config.machinePrices, config.machinePricePerHourUsd, this.work(), this.busyMachines(), now);
      this.fleet.recordTick(now, null);
    } catch (error) {
      // A provider's API is down or refusing: try again at the next tick.
      console.error("fleet reconcile failed", error);
      this.fleet.recordTick(now, (error as Error).message);
    }
    const work = this.work();
    if (work.pending_tasks + work.leased_tasks > 0 || this.fleet.tracking()) await this.ctx.storage.setAlarm(Date.now() + RECONCILE_MS);
  }

  private busyMachines(): Set<string> {
    const rows = this.ctx.storage.sql.exec<{ machines: string }>("SELECT machines FROM jobs WHERE leased > 0").toArray();
    return new Set(rows.flatMap((r) => JSON.parse(r.machines) as string[]));
  }

  private async reconcileSoon(): Promise<void> {
    if (!readConfig(this.env).fleet) return;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }

  private work(): QueueStats {
    return this.ctx.storage.sql
      .exec<QueueStats>(
        `SELECT COUNT(*) AS jobs, COALESCE(SUM(pending), 0) AS pending_tasks, COALESCE(SUM(pending_audio_sec), 0) AS pending_audio_sec,
           COALESCE(SUM(leased), 0) AS leased_tasks, COALESCE(SUM(leased_audio_sec), 0) AS leased_audio_sec,
           COALESCE(SUM(CASE WHEN pending_audio_sec = 0 THEN pending ELSE 0 END), 0) AS pending_plans FROM jobs`,
      )
      .one();
  }

  private write(jobId: string, createdAt: number, work: JobWork, servedAt: number | null): void {
    if (work.pending <= 0 && work.leased <= 0) {
      this.ctx.storage.sql.exec("DELETE FROM jobs WHERE job_id = ?", jobId);
      return;
    }
    this.ctx.storage.sql.exec(
      `INSERT INTO jobs (job_id, pending, pending_audio_sec, leased, leased_audio_sec, machines, created_at, last_served_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id) DO UPDATE SET pending = excluded.pending, pending_audio_sec = excluded.pending_audio_sec,
         leased = excluded.leased, leased_audio_sec = excluded.leased_audio_sec, machines = excluded.machines,
         last_served_at = COALESCE(excluded.last_served_at, jobs.last_served_at)`,
      jobId, work.pending, work.pending_audio_sec, work.leased, work.leased_audio_sec, JSON.stringify(work.machines ?? []), createdAt, servedAt,
    );
  }
}
