import { runMigrations } from "../sql-migrations.ts";

/**
 * The work queue's SQLite schema: the fair queue's `jobs`, the fleet's
 * `machines`, `machine_credentials`, `providers` and `fleet`, and the
 * directory's `shard_reports`. Add a migration by appending to MIGRATIONS;
 * never edit a shipped one.
 */
const MIGRATIONS: readonly string[] = [
  // IF NOT EXISTS: queues made before this list kept their tables (brought up to date by legacyColumns).
  `
  CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    pending INTEGER NOT NULL,
    pending_audio_sec REAL NOT NULL,
    created_at INTEGER NOT NULL,
    last_served_at INTEGER,
    leased INTEGER NOT NULL DEFAULT 0,
    leased_audio_sec REAL NOT NULL DEFAULT 0,
    machines TEXT NOT NULL DEFAULT '[]'
  );
  CREATE TABLE IF NOT EXISTS machines (
    machine_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    machine_type TEXT NOT NULL,
    price_per_hour_usd REAL NOT NULL,
    started_at INTEGER NOT NULL,
    claimed_at INTEGER,
    last_work_at INTEGER,
    exiting_at INTEGER
  );
  CREATE TABLE IF NOT EXISTS providers (
    name TEXT PRIMARY KEY,
    active INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_failure_at INTEGER,
    last_error TEXT
  );
  CREATE TABLE IF NOT EXISTS fleet (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    desired INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 0,
    failed_starts INTEGER NOT NULL DEFAULT 0,
    last_failed_start_at INTEGER,
    backoff_until INTEGER,
    last_reconcile_at INTEGER,
    last_error TEXT
  );
  INSERT OR IGNORE INTO fleet (one) VALUES (1);
  DROP TABLE IF EXISTS machine_starts;
  `,
  `
  ALTER TABLE jobs ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
  `,
  `
  ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
  `,
  // Machine credentials (tasks/machine-credential.ts): the name each was minted for, and the
  // provider's id it is bound to once the create call answered or the machine first claimed.
  `
  CREATE TABLE machine_credentials (
    name TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    machine_id TEXT UNIQUE,
    issued_at INTEGER NOT NULL
  );
  `,
  // The fair queue's turn order (fair-queue.ts next): each key's jobs together, by when they were served.
  `
  CREATE INDEX jobs_by_owner ON jobs (owner, last_served_at);
  `,
  // The directory's view of the other shards (shard-reports.ts); empty with QUEUE_SHARDS=1.
  `
  CREATE TABLE shard_reports (
    shard INTEGER PRIMARY KEY,
    jobs INTEGER NOT NULL,
    pending_tasks INTEGER NOT NULL,
    pending_audio_sec REAL NOT NULL,
    leased_tasks INTEGER NOT NULL,
    leased_audio_sec REAL NOT NULL,
    pending_plans INTEGER NOT NULL,
    machines TEXT NOT NULL,
    reported_at INTEGER NOT NULL
  );
  `,
];

export function migrateQueue(sql: SqlStorage): void {
  legacyColumns(sql);
  runMigrations(sql, MIGRATIONS);
}

/** Queues made before this schema had a version: `jobs` from before machines were started on demand or retired by the edge. */
function legacyColumns(sql: SqlStorage): void {
  const columns = sql
    .exec<{ name: string }>("SELECT name FROM pragma_table_info('jobs')")
    .toArray()
    .map((c) => c.name);
  if (columns.length === 0) return;
  if (!columns.includes("leased")) {
    sql.exec("ALTER TABLE jobs ADD COLUMN leased INTEGER NOT NULL DEFAULT 0");
    sql.exec("ALTER TABLE jobs ADD COLUMN leased_audio_sec REAL NOT NULL DEFAULT 0");
  }
  if (!columns.includes("machines")) sql.exec("ALTER TABLE jobs ADD COLUMN machines TEXT NOT NULL DEFAULT '[]'");
}
