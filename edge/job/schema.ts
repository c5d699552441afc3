import { runMigrations } from "../sql-migrations.ts";

/**
 * The job object's SQLite schema, applied once per object by `migrate`.
 * Add a migration by appending to MIGRATIONS; never edit a shipped one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE job (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    audio_url TEXT NOT NULL,
    options TEXT NOT NULL,
    webhook TEXT,
    metadata TEXT,
    media TEXT NOT NULL,
    state TEXT NOT NULL,
    plan_machine_sec REAL NOT NULL DEFAULT 0,
    last_progress_event_at INTEGER
  );
  CREATE TABLE ranges (
    idx INTEGER PRIMARY KEY,
    start_sec REAL NOT NULL,
    end_sec REAL NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL
  );
  CREATE TABLE batches (
    range_idx INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (range_idx, attempt, seq)
  );
  CREATE TABLE segments (
    range_idx INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    start_sec REAL NOT NULL,
    end_sec REAL NOT NULL,
    text TEXT NOT NULL,
    language TEXT NOT NULL,
    avg_logprob REAL NOT NULL,
    no_speech_prob REAL NOT NULL,
    compression_ratio REAL,
    words TEXT,
    PRIMARY KEY (range_idx, seq, ord)
  );
  CREATE INDEX segments_in_time_order ON segments (start_sec, range_idx, seq, ord);
  CREATE TABLE deadlines (
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    due INTEGER NOT NULL,
    PRIMARY KEY (kind, ref)
  );
  CREATE INDEX deadlines_by_due ON deadlines (due);
  CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    n INTEGER NOT NULL UNIQUE,
    type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at INTEGER,
    last_attempt_at INTEGER,
    last_status INTEGER,
    last_error TEXT
  );
  CREATE TABLE webhook_attempts (
    event_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    response_status INTEGER,
    error TEXT,
    PRIMARY KEY (event_id, attempt)
  );
  `,
  `
  ALTER TABLE job ADD COLUMN plan_media TEXT;
  ALTER TABLE job ADD COLUMN settled_language TEXT;
  CREATE TABLE range_languages (
    range_idx INTEGER NOT NULL,
    language TEXT NOT NULL,
    sec REAL NOT NULL,
    PRIMARY KEY (range_idx, language)
  );
  `,
  `
  ALTER TABLE job ADD COLUMN plan_machine TEXT;
  `,
  // The upload the job reads (edge/uploads/), whose URL is signed afresh for each task.
  `
  ALTER TABLE job ADD COLUMN upload_id TEXT;
  `,
  // Live events (live-events.ts): every merge and every replacement, numbered in the order
  // they happened, so a client resuming from an event id misses nothing and sees nothing twice.
  `
  CREATE TABLE merge_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    range_idx INTEGER NOT NULL,
    start_sec REAL NOT NULL,
    end_sec REAL NOT NULL
  );
  ALTER TABLE segments ADD COLUMN merge_seq INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX segments_by_merge ON segments (merge_seq);
  CREATE TABLE live (one INTEGER PRIMARY KEY CHECK (one = 1), sent_seq INTEGER NOT NULL);
  INSERT INTO live (one, sent_seq) VALUES (1, 0);
  `,
  // Boundaries range tasks settle themselves (range-leases.ts settle): a range's start is
  // unsettled until the first of its two neighbours proposes a quiet point for it.
  `
  ALTER TABLE ranges ADD COLUMN start_settled INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE job ADD COLUMN boundary_search_sec REAL;
  `,
  // Diarization (speaker-labels.ts): a segment names its speaker as its range's machine
  // knew it; each done range's speakers carry a voice vector and, once the job has
  // clustered them with every other range's, the job-wide label its segments show.
  `
  ALTER TABLE segments ADD COLUMN speaker TEXT;
  CREATE TABLE range_speakers (
    range_idx INTEGER NOT NULL,
    local TEXT NOT NULL,
    vector TEXT NOT NULL,
    talk_sec REAL NOT NULL,
    first_sec REAL NOT NULL,
    label TEXT,
    PRIMARY KEY (range_idx, local)
  );
  `,
];

/**
 * Whether this object ever held a job. Lookups of unknown ids must not write
 * anything, or every mistyped id would leave a stored object behind.
 */
export function hasSchema(sql: SqlStorage): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").toArray().length > 0;
}

export function migrate(sql: SqlStorage): void {
  runMigrations(sql, MIGRATIONS);
}
