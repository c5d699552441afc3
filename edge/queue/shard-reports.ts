import type { ShardReport } from "./directory.ts";
import type { QueueStats } from "./fair-queue.ts";

/**
 * The directory's `shard_reports` table: each other shard's work as it last
 * reported it (from its alarm, retried there until it lands), so the fleet is
 * sized to the whole backlog and never retires a machine a shard says is busy.
 * A report stays until the shard replaces it; a shard reports once more after its
 * work drains, so the last word about a shard is its work now.
 */
export class ShardReports {
  constructor(private readonly sql: SqlStorage) {}

  write(shard: number, report: ShardReport, now: number): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO shard_reports (shard, jobs, pending_tasks, pending_audio_sec, leased_tasks, leased_audio_sec, pending_plans, machines, reported_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      shard,
      report.jobs,
      report.pending_tasks,
      report.pending_audio_sec,
      report.leased_tasks,
      report.leased_audio_sec,
      report.pending_plans,
      JSON.stringify(report.machines),
      now,
    );
  }

  /** `own` (the directory's jobs) plus what shards 1 … shards-1 reported; a shard above QUEUE_SHARDS is no longer asked by claims and not counted. */
  total(own: QueueStats, shards: number): QueueStats {
    const r = this.sql
      .exec<QueueStats>(
        `SELECT COALESCE(SUM(jobs), 0) AS jobs, COALESCE(SUM(pending_tasks), 0) AS pending_tasks, COALESCE(SUM(pending_audio_sec), 0) AS pending_audio_sec,
           COALESCE(SUM(leased_tasks), 0) AS leased_tasks, COALESCE(SUM(leased_audio_sec), 0) AS leased_audio_sec,
           COALESCE(SUM(pending_plans), 0) AS pending_plans FROM shard_reports WHERE shard < ?`,
        shards,
      )
      .one();
    return {
      jobs: own.jobs + r.jobs,
      pending_tasks: own.pending_tasks + r.pending_tasks,
      pending_audio_sec: own.pending_audio_sec + r.pending_audio_sec,
      leased_tasks: own.leased_tasks + r.leased_tasks,
      leased_audio_sec: own.leased_audio_sec + r.leased_audio_sec,
      pending_plans: own.pending_plans + r.pending_plans,
    };
  }

  /** Machines holding some shard's leases as last reported. */
  busy(shards: number): string[] {
    return this.sql
      .exec<{ machines: string }>("SELECT machines FROM shard_reports WHERE shard < ? AND leased_tasks > 0", shards)
      .toArray()
      .flatMap((r) => JSON.parse(r.machines) as string[]);
  }
}
