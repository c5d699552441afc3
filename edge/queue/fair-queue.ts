import type { JobWork } from "./work.ts";

export type QueueStats = {
  jobs: number;
  pending_tasks: number;
  pending_audio_sec: number;
  leased_tasks: number;
  leased_audio_sec: number;
  pending_plans: number;
};

/**
 * Which jobs have tasks to hand out, in fair order: the `jobs` table of the
 * queue object. It holds no tasks itself (each job object owns its ranges and
 * leases), only each job's counts as the job last told them. API keys take turns
 * first (the key least recently served, never served before all others), then
 * that key's jobs (the least recently served, oldest first among equals): a tenant
 * with 50 jobs gets a turn like a tenant with one, and one job with 200 ranges
 * does not starve its key's other jobs.
 */
export class FairQueue {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * The next job to ask for a task, skipping `exhausted` (asked this round and had none).
   * Each key's last turn is computed once per claim (one grouped pass, on the owner
   * index) and only the first row is read: with hundreds of jobs in the queue a
   * per-row subquery made every claim quadratic in them.
   */
  next(exhausted: ReadonlySet<string>): { job_id: string; created_at: number } | null {
    return (
      this.sql
        .exec<{ job_id: string; created_at: number }>(
          `WITH turns AS (SELECT owner, MAX(last_served_at) AS served FROM jobs GROUP BY owner)
           SELECT j.job_id, j.created_at FROM jobs j JOIN turns t ON t.owner = j.owner
           WHERE j.pending > 0 AND j.job_id NOT IN (SELECT value FROM json_each(?))
           ORDER BY t.served IS NOT NULL, t.served, j.last_served_at IS NOT NULL, j.last_served_at, j.created_at, j.job_id
           LIMIT 1`,
          JSON.stringify([...exhausted]),
        )
        .toArray()[0] ?? null
    );
  }

  /** A job's work now; `servedAt` when it just handed out a task; `owner` when the job says it. A job with none leaves the queue. */
  write(jobId: string, createdAt: number, work: JobWork, servedAt: number | null, owner: string | null = null): void {
    if (work.pending <= 0 && work.leased <= 0) {
      this.remove(jobId);
      return;
    }
    this.sql.exec(
      `INSERT INTO jobs (job_id, pending, pending_audio_sec, leased, leased_audio_sec, machines, created_at, last_served_at, updated_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (job_id) DO UPDATE SET pending = excluded.pending, pending_audio_sec = excluded.pending_audio_sec,
         leased = excluded.leased, leased_audio_sec = excluded.leased_audio_sec, machines = excluded.machines,
         last_served_at = COALESCE(excluded.last_served_at, jobs.last_served_at), updated_at = excluded.updated_at,
         owner = CASE WHEN excluded.owner = '' THEN jobs.owner ELSE excluded.owner END`,
      jobId,
      work.pending,
      work.pending_audio_sec,
      work.leased,
      work.leased_audio_sec,
      JSON.stringify(work.machines ?? []),
      createdAt,
      servedAt,
      Date.now(),
      owner ?? "",
    );
  }

  /**
   * Rows with only leased work that no job has updated since `before`: a job deleted
   * or canceled while a claim's snapshot of it was in flight leaves one behind, and it
   * would keep the fleet's alarm turning and size the fleet on audio nobody holds.
   */
  leasedOnly(before: number, limit: number): Array<{ job_id: string; created_at: number }> {
    return this.sql
      .exec<{ job_id: string; created_at: number }>(
        "SELECT job_id, created_at FROM jobs WHERE pending = 0 AND leased > 0 AND updated_at < ? ORDER BY updated_at LIMIT ?",
        before,
        limit,
      )
      .toArray();
  }

  remove(jobId: string): void {
    this.sql.exec("DELETE FROM jobs WHERE job_id = ?", jobId);
  }

  stats(): QueueStats {
    return this.sql
      .exec<QueueStats>(
        `SELECT COUNT(*) AS jobs, COALESCE(SUM(pending), 0) AS pending_tasks, COALESCE(SUM(pending_audio_sec), 0) AS pending_audio_sec,
           COALESCE(SUM(leased), 0) AS leased_tasks, COALESCE(SUM(leased_audio_sec), 0) AS leased_audio_sec,
           COALESCE(SUM(CASE WHEN pending_audio_sec = 0 THEN pending ELSE 0 END), 0) AS pending_plans FROM jobs`,
      )
      .one();
  }

  /** Machines holding some job's lease: busy, never retired as idle. */
  busyMachines(): Set<string> {
    const rows = this.sql.exec<{ machines: string }>("SELECT machines FROM jobs WHERE leased > 0").toArray();
    return new Set(rows.flatMap((r) => JSON.parse(r.machines) as string[]));
  }
}
