import { DurableObject } from "cloudflare:workers";
import type { Task } from "../../shared/protocol.ts";
import { readConfig, type FleetConfig } from "../config.ts";
import { jobStub } from "../job-stubs.ts";
import { planFleet, type FleetDecision } from "../machines/fleet-plan.ts";
import { FlyClient } from "../machines/fly-client.ts";
import { FlyProvider } from "../machines/fly-provider.ts";
import { ACTIVE_STATES, type MachineProvider } from "../machines/machine-provider.ts";

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
}

export type QueueStats = {
  jobs: number;
  pending_tasks: number;
  pending_audio_sec: number;
  leased_tasks: number;
  leased_audio_sec: number;
  pending_plans: number;
};

export type FleetStatus = {
  desired: number;
  active: number;
  failed_starts: number;
  backoff_until: number | null;
  last_reconcile_at: number | null;
  last_error: string | null;
};

/** Reconcile ticks while there is work or a start to judge; none when idle (an idle deployment costs nothing). */
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
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS jobs (
      job_id TEXT PRIMARY KEY,
      pending INTEGER NOT NULL,
      pending_audio_sec REAL NOT NULL,
      created_at INTEGER NOT NULL,
      last_served_at INTEGER,
      leased INTEGER NOT NULL DEFAULT 0,
      leased_audio_sec REAL NOT NULL DEFAULT 0
    )`);
    const columns = ctx.storage.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('jobs')").toArray().map((c) => c.name);
    if (!columns.includes("leased")) {
      // Queues created before machines were started on demand.
      ctx.storage.sql.exec("ALTER TABLE jobs ADD COLUMN leased INTEGER NOT NULL DEFAULT 0");
      ctx.storage.sql.exec("ALTER TABLE jobs ADD COLUMN leased_audio_sec REAL NOT NULL DEFAULT 0");
    }
    // Machines the reconcile loop started, until they claim work or are judged failed.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS machine_starts (machine_id TEXT PRIMARY KEY, started_at INTEGER NOT NULL)");
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS fleet (
      one INTEGER PRIMARY KEY CHECK (one = 1),
      desired INTEGER NOT NULL DEFAULT 0,
      active INTEGER NOT NULL DEFAULT 0,
      failed_starts INTEGER NOT NULL DEFAULT 0,
      last_failed_start_at INTEGER,
      backoff_until INTEGER,
      last_reconcile_at INTEGER,
      last_error TEXT
    )`);
    ctx.storage.sql.exec("INSERT OR IGNORE INTO fleet (one) VALUES (1)");
  }

  /** A job tells the queue what it has to hand out (0 removes it). */
  async update(jobId: string, createdAt: number, work: JobWork): Promise<void> {
    this.write(jobId, createdAt, work, null);
    if (work.pending > 0) await this.reconcileSoon();
  }

  async claim(machineId: string, capacity: number, leaseSec: number): Promise<UnsignedTask[]> {
    // A claim proves machines come up: this one's start succeeded, and any crash loop is over.
    this.ctx.storage.sql.exec("DELETE FROM machine_starts WHERE machine_id = ?", machineId);
    this.ctx.storage.sql.exec("UPDATE fleet SET failed_starts = 0, last_failed_start_at = NULL, backoff_until = NULL WHERE failed_starts > 0");
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
    return this.work();
  }

  async fleetStatus(): Promise<FleetStatus> {
    return this.ctx.storage.sql.exec<FleetStatus>("SELECT desired, active, failed_starts, backoff_until, last_reconcile_at, last_error FROM fleet").one();
  }

  /** The reconcile loop: size the fleet to the work, from the alarm. */
  override async alarm(): Promise<void> {
    const fleet = readConfig(this.env).fleet;
    if (!fleet) return;
    const now = Date.now();
    try {
      await this.reconcile(fleetProvider(fleet), fleet, now);
      this.ctx.storage.sql.exec("UPDATE fleet SET last_reconcile_at = ?, last_error = NULL", now);
    } catch (error) {
      // The provider's API is down or refusing: try again at the next tick.
      console.error("fleet reconcile failed", error);
      this.ctx.storage.sql.exec("UPDATE fleet SET last_reconcile_at = ?, last_error = ?", now, (error as Error).message.slice(0, 500));
    }
    const work = this.work();
    const judging = this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM machine_starts").one().n;
    if (work.pending_tasks + work.leased_tasks > 0 || judging > 0) await this.ctx.storage.setAlarm(Date.now() + RECONCILE_MS);
  }

  private async reconcile(provider: MachineProvider, fleet: FleetConfig, now: number): Promise<FleetDecision> {
    const machines = await provider.list();
    const state = new Map(machines.map((m) => [m.id, m.state]));
    // Starts that ended, or took too long, without a claim count as failed.
    const starts = this.ctx.storage.sql.exec<{ machine_id: string; started_at: number }>("SELECT machine_id, started_at FROM machine_starts").toArray();
    for (const s of starts) {
      const st = state.get(s.machine_id);
      const gone = st === undefined || !ACTIVE_STATES.has(st);
      if (gone || now - s.started_at > fleet.startGraceSec * 1000) {
        console.warn(`machine ${s.machine_id} ${gone ? `is ${st ?? "gone"}` : `has not claimed in ${fleet.startGraceSec} s`} without claiming work: a failed start`);
        this.ctx.storage.sql.exec("DELETE FROM machine_starts WHERE machine_id = ?", s.machine_id);
        this.ctx.storage.sql.exec("UPDATE fleet SET failed_starts = failed_starts + 1, last_failed_start_at = ?", now);
      }
    }
    const active = machines.filter((m) => ACTIVE_STATES.has(m.state)).length;
    const work = this.work();
    const record = this.ctx.storage.sql.exec<{ failed_starts: number; last_failed_start_at: number | null }>("SELECT failed_starts, last_failed_start_at FROM fleet").one();
    const decision = planFleet({
      pendingTasks: work.pending_tasks,
      pendingPlans: work.pending_plans,
      pendingAudioSec: work.pending_audio_sec,
      leasedTasks: work.leased_tasks,
      leasedAudioSec: work.leased_audio_sec,
      active,
      maxMachines: fleet.maxMachines,
      audioSecPerMachine: fleet.audioSecPerMachine,
      failedStarts: record.failed_starts,
      lastFailedStartAt: record.last_failed_start_at,
      now,
    });
    let nowActive = active;
    if (decision.start > 0) {
      const result = await provider.ensure(active + decision.start);
      nowActive = result.active;
      for (const id of [...result.started, ...result.created]) {
        this.ctx.storage.sql.exec("INSERT OR REPLACE INTO machine_starts (machine_id, started_at) VALUES (?, ?)", id, now);
      }
    }
    this.ctx.storage.sql.exec("UPDATE fleet SET desired = ?, active = ?, backoff_until = ?", decision.desired, nowActive, decision.backoffUntil);
    return decision;
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
      `INSERT INTO jobs (job_id, pending, pending_audio_sec, leased, leased_audio_sec, created_at, last_served_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id) DO UPDATE SET pending = excluded.pending, pending_audio_sec = excluded.pending_audio_sec,
         leased = excluded.leased, leased_audio_sec = excluded.leased_audio_sec,
         last_served_at = COALESCE(excluded.last_served_at, jobs.last_served_at)`,
      jobId, work.pending, work.pending_audio_sec, work.leased, work.leased_audio_sec, createdAt, servedAt,
    );
  }
}

function fleetProvider(fleet: FleetConfig): MachineProvider {
  return new FlyProvider(new FlyClient({ baseUrl: fleet.apiUrl, app: fleet.app, token: fleet.token }), fleet.spec);
}
