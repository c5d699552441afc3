import { DurableObject } from "cloudflare:workers";
import { runMigrations } from "../sql-migrations.ts";

/** The key index's schema; append a migration, never edit a shipped one. */
const MIGRATIONS: readonly string[] = [
  // IF NOT EXISTS: indexes made before this list kept their tables.
  `
  CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS jobs_newest_first ON jobs (created_at DESC, id DESC);
  CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, body_hash TEXT NOT NULL, job_id TEXT NOT NULL,
    committed INTEGER NOT NULL, created_at INTEGER NOT NULL
  );
  `,
  // Unfinished jobs, for MAX_ACTIVE_JOBS_PER_KEY; jobs listed before this count as finished.
  `
  ALTER TABLE jobs ADD COLUMN active INTEGER NOT NULL DEFAULT 0;
  `,
  // Planned audio of each job, for MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY.
  `
  ALTER TABLE jobs ADD COLUMN audio_sec REAL NOT NULL DEFAULT 0;
  `,
  // Live uploads and their sizes, for MAX_UPLOAD_GB_PER_KEY.
  `
  CREATE TABLE uploads (id TEXT PRIMARY KEY, size_bytes INTEGER NOT NULL);
  `,
];

/** How long an Idempotency-Key is remembered, as Stripe does. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/**
 * A reservation whose request has not created its job by then is taken over by the
 * next request with the key: its client timed out or the Worker died mid-request.
 * Well above the media check's worst case (10 s per fetch, a few redirects).
 */
export const RESERVATION_STALE_MS = 2 * 60_000;

export type Reservation = { kind: "new" } | { kind: "existing"; job_id: string; committed: boolean } | { kind: "conflict" };

/** What a key's quotas count of one job. */
export interface JobQuotaState {
  active: boolean;
  audio_sec: number;
}

export interface JobPage {
  ids: string[];
  next_cursor: string | null;
}

/**
 * One object per API key (named by the key id): the list of that key's jobs,
 * newest first, and its Idempotency-Keys. Listing needs an index because job
 * objects are only reachable by id.
 */
export class KeyIndexObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => runMigrations(this.sql, MIGRATIONS));
  }

  /**
   * Claims `key` for a request body, atomically: the first caller gets "new"
   * and goes on to create `jobId`; later callers with the same body get that
   * job, and with another body a conflict.
   */
  async reserve(key: string, bodyHash: string, jobId: string): Promise<Reservation> {
    const now = Date.now();
    this.sql.exec("DELETE FROM idempotency WHERE created_at < ?", now - IDEMPOTENCY_TTL_MS);
    const row = this.sql
      .exec<{ body_hash: string; job_id: string; committed: number; created_at: number }>(
        "SELECT body_hash, job_id, committed, created_at FROM idempotency WHERE key = ?",
        key,
      )
      .toArray()[0];
    if (row && row.body_hash !== bodyHash) return { kind: "conflict" };
    if (row && (row.committed === 1 || row.created_at > now - RESERVATION_STALE_MS))
      return { kind: "existing", job_id: row.job_id, committed: row.committed === 1 };
    // New, or a stale reservation taken over: job ids derive from the key, so the
    // job a dead request may have made is the one this request finds or makes.
    this.sql.exec(
      "INSERT INTO idempotency (key, body_hash, job_id, committed, created_at) VALUES (?, ?, ?, 0, ?) ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at",
      key,
      bodyHash,
      jobId,
      now,
    );
    await this.scheduleCleanup(now + IDEMPOTENCY_TTL_MS);
    return { kind: "new" };
  }

  /** A request that failed before creating its job gives its key back, so a corrected retry can use it. */
  async release(key: string, jobId: string): Promise<void> {
    this.sql.exec("DELETE FROM idempotency WHERE key = ? AND job_id = ? AND committed = 0", key, jobId);
  }

  /** Called by the job object itself when it is created (and retried from its alarm), never by a route. */
  async add(jobId: string, createdAt: number, idempotencyKey: string | null, state: JobQuotaState): Promise<void> {
    this.upsert(jobId, createdAt, state);
    if (idempotencyKey !== null) this.sql.exec("UPDATE idempotency SET committed = 1 WHERE key = ? AND job_id = ?", idempotencyKey, jobId);
  }

  /** Called by the job object once planned (its audio) and once final (and retried from its alarm). */
  async sync(jobId: string, createdAt: number, state: JobQuotaState): Promise<void> {
    this.upsert(jobId, createdAt, state);
  }

  /**
   * Both calls write the job's whole current state, so they may arrive in either order
   * (an index entry retried from the alarm after the job already finished) and the
   * last one is right.
   */
  private upsert(jobId: string, createdAt: number, state: JobQuotaState): void {
    this.sql.exec(
      "INSERT INTO jobs (id, created_at, active, audio_sec) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET active = excluded.active, audio_sec = excluded.audio_sec",
      jobId,
      createdAt,
      state.active ? 1 : 0,
      state.audio_sec,
    );
  }

  /** This key's unfinished jobs and their planned audio: what its quotas count. */
  async load(): Promise<{ jobs: number; audio_sec: number }> {
    return this.sql
      .exec<{ jobs: number; audio_sec: number }>("SELECT COUNT(*) AS jobs, COALESCE(SUM(audio_sec), 0) AS audio_sec FROM jobs WHERE active = 1")
      .one();
  }

  /**
   * Counts an upload's bytes against the key, unless that would pass `limitBytes`
   * (0: no limit). Called before the upload exists, so a key cannot get past its
   * limit with uploads made at the same time.
   */
  async holdUpload(uploadId: string, sizeBytes: number, limitBytes: number): Promise<{ ok: boolean; held_bytes: number }> {
    const held = this.sql.exec<{ n: number }>("SELECT COALESCE(SUM(size_bytes), 0) AS n FROM uploads WHERE id != ?", uploadId).one().n;
    if (limitBytes > 0 && held + sizeBytes > limitBytes) return { ok: false, held_bytes: held };
    this.sql.exec("INSERT OR REPLACE INTO uploads (id, size_bytes) VALUES (?, ?)", uploadId, sizeBytes);
    return { ok: true, held_bytes: held + sizeBytes };
  }

  /** An upload deleted or expired (from its own object, retried from its alarm). */
  async releaseUpload(uploadId: string): Promise<void> {
    this.sql.exec("DELETE FROM uploads WHERE id = ?", uploadId);
  }

  async remove(jobId: string): Promise<void> {
    this.sql.exec("DELETE FROM jobs WHERE id = ?", jobId);
    this.sql.exec("DELETE FROM idempotency WHERE job_id = ?", jobId);
  }

  async list(limit: number, cursor: string | null): Promise<JobPage | null> {
    const after = cursor === null ? null : decodeCursor(cursor);
    if (cursor !== null && after === null) return null;
    const rows = (
      after === null
        ? this.sql.exec<{ id: string; created_at: number }>("SELECT id, created_at FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?", limit + 1)
        : this.sql.exec<{ id: string; created_at: number }>(
            "SELECT id, created_at FROM jobs WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?",
            after.created_at,
            after.id,
            limit + 1,
          )
    ).toArray();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { ids: page.map((r) => r.id), next_cursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.sql.exec("DELETE FROM idempotency WHERE created_at < ?", now - IDEMPOTENCY_TTL_MS);
    const next = this.sql.exec<{ t: number | null }>("SELECT MIN(created_at) AS t FROM idempotency").one().t;
    if (next !== null) await this.ctx.storage.setAlarm(next + IDEMPOTENCY_TTL_MS);
  }

  private async scheduleCleanup(at: number): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(at);
  }
}

function encodeCursor(row: { id: string; created_at: number }): string {
  return btoa(`${row.created_at}:${row.id}`).replace(/=+$/, "");
}

function decodeCursor(cursor: string): { id: string; created_at: number } | null {
  try {
    const m = /^(\d+):(tr_[0-9a-z]+)$/.exec(atob(cursor));
    return m ? { created_at: Number(m[1]), id: m[2]! } : null;
  } catch {
    return null;
  }
}

/** The key index of `keyId`, as an upload object sees it: where its bytes are counted. */
export function keyIndexForUploads(env: Env, keyId: string): Pick<KeyIndexObject, "releaseUpload"> {
  return env.KEY_INDEX.get(env.KEY_INDEX.idFromName(keyId)) as unknown as Pick<KeyIndexObject, "releaseUpload">;
}

/** The key index of `keyId`, as a job object sees it: where it lists itself. */
export function keyIndexFor(env: Env, keyId: string): Pick<KeyIndexObject, "add" | "sync"> {
  return env.KEY_INDEX.get(env.KEY_INDEX.idFromName(keyId)) as unknown as Pick<KeyIndexObject, "add" | "sync">;
}
