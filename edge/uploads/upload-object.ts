import { DurableObject } from "cloudflare:workers";
import { FINAL_STATUSES } from "../../shared/api.ts";
import type { Upload } from "../../shared/uploads.ts";
import { fail, ok, type Result } from "../errors.ts";
import { jobStub } from "../job-stubs.ts";
import { keyIndexForUploads } from "../key-index/key-index-object.ts";
import { runMigrations } from "../sql-migrations.ts";

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE upload (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    gone_reason TEXT,
    size_bytes INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT,
    part_size_bytes INTEGER NOT NULL,
    parts_total INTEGER NOT NULL,
    r2_upload_id TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    released INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE parts (part_number INTEGER PRIMARY KEY, size_bytes INTEGER NOT NULL, etag TEXT NOT NULL);
  CREATE TABLE readers (job_id TEXT PRIMARY KEY);
  `,
];

/** An upload past its time is kept this much longer each time a job is found still reading it. */
const READER_GRACE_MS = 3600_000;

type Status = "uploading" | "completed" | "gone";

type Row = {
  id: string;
  owner: string;
  status: Status;
  gone_reason: "expired" | "deleted" | null;
  size_bytes: number;
  content_type: string;
  filename: string | null;
  part_size_bytes: number;
  parts_total: number;
  r2_upload_id: string | null;
  created_at: number;
  expires_at: number;
  released: number;
};

export interface NewUpload {
  id: string;
  owner: string;
  size_bytes: number;
  content_type: string;
  filename: string | null;
  part_size_bytes: number;
  /** Multipart: parts follow; otherwise the route stores the one body and calls `stored`. */
  multipart: boolean;
  ttl_ms: number;
}

/** Where a part goes in R2. */
export interface PartTarget {
  key: string;
  r2_upload_id: string;
}

/** What a job learns of the upload it reads: the validators machines check the file against. */
export interface UploadMedia {
  size_bytes: number;
  content_type: string;
  etag: string;
  last_modified: string;
}

/**
 * One object per upload (named by its id): who owns it, which parts R2 holds,
 * which jobs read it, and when it goes. The bytes themselves go from the route
 * straight into R2 (a part streams through the Worker, never through this
 * object); this keeps the record that makes a multipart upload resumable and
 * deletes the file from its alarm once it has expired and no job reads it.
 */
export class UploadObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => runMigrations(this.sql, MIGRATIONS));
  }

  async begin(init: NewUpload): Promise<Upload> {
    const now = Date.now();
    const multipart = init.multipart
      ? await this.bucket().createMultipartUpload(init.id, { httpMetadata: { contentType: init.content_type }, customMetadata: { owner: init.owner } })
      : null;
    const partsTotal = init.multipart ? Math.max(1, Math.ceil(init.size_bytes / init.part_size_bytes)) : 1;
    this.sql.exec(
      `INSERT INTO upload (one, id, owner, status, size_bytes, content_type, filename, part_size_bytes, parts_total, r2_upload_id, created_at, expires_at)
       VALUES (1, ?, ?, 'uploading', ?, ?, ?, ?, ?, ?, ?, ?)`,
      init.id,
      init.owner,
      init.size_bytes,
      init.content_type,
      init.filename,
      init.multipart ? init.part_size_bytes : init.size_bytes,
      partsTotal,
      multipart?.uploadId ?? null,
      now,
      now + init.ttl_ms,
    );
    await this.ctx.storage.setAlarm(now + init.ttl_ms);
    return this.view(this.row()!);
  }

  /** A single-body upload's file is in R2. */
  async stored(owner: string, size: number, etag: string): Promise<Result<Upload>> {
    const row = this.owned(owner);
    if (!row.ok) return row;
    this.sql.exec("INSERT OR REPLACE INTO parts (part_number, size_bytes, etag) VALUES (1, ?, ?)", size, etag);
    this.sql.exec("UPDATE upload SET status = 'completed', size_bytes = ? WHERE one = 1", size);
    return ok(this.view(this.row()!));
  }

  /** Checks part `n` of `size` bytes may be stored, and says where. */
  async partTarget(owner: string, n: number, size: number): Promise<Result<PartTarget>> {
    const found = this.owned(owner);
    if (!found.ok) return found;
    const row = found.value;
    if (row.status === "completed") return fail(409, "upload_completed", "this upload is complete; its parts can no longer change");
    if (row.r2_upload_id === null) return fail(400, "invalid_request", "this upload was sent whole, not in parts");
    if (!Number.isInteger(n) || n < 1 || n > row.parts_total) return fail(400, "invalid_request", `part numbers run from 1 to ${row.parts_total}`);
    const expected = n < row.parts_total ? row.part_size_bytes : row.size_bytes - row.part_size_bytes * (row.parts_total - 1);
    if (size !== expected) {
      return fail(
        400,
        "invalid_request",
        `part ${n} must be exactly ${expected} bytes (${n < row.parts_total ? "part_size_bytes" : "the rest of the file"}); this one has ${size}`,
      );
    }
    return ok({ key: row.id, r2_upload_id: row.r2_upload_id });
  }

  async partStored(owner: string, n: number, size: number, etag: string): Promise<Result<{ part_number: number; size_bytes: number }>> {
    const found = this.owned(owner);
    if (!found.ok) return found;
    this.sql.exec("INSERT OR REPLACE INTO parts (part_number, size_bytes, etag) VALUES (?, ?, ?)", n, size, etag);
    return ok({ part_number: n, size_bytes: size });
  }

  async get(owner: string): Promise<Result<Upload>> {
    const found = this.owned(owner);
    return found.ok ? ok(this.view(found.value)) : found;
  }

  /** Joins the parts into one file; again on a completed upload answers it as it is. */
  async complete(owner: string): Promise<Result<Upload>> {
    const found = this.owned(owner);
    if (!found.ok) return found;
    const row = found.value;
    if (row.status === "completed") return ok(this.view(row));
    const parts = this.parts();
    const have = new Set(parts.map((p) => p.part_number));
    const missing = Array.from({ length: row.parts_total }, (_, i) => i + 1).filter((n) => !have.has(n));
    if (missing.length > 0) {
      const list = missing.length > 20 ? `${missing.slice(0, 20).join(", ")} and ${missing.length - 20} more` : missing.join(", ");
      return fail(409, "upload_incomplete", `${missing.length} of ${row.parts_total} parts are missing: ${list}; send them, then complete again`);
    }
    const multipart = this.bucket().resumeMultipartUpload(row.id, row.r2_upload_id!);
    await multipart.complete(parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })));
    this.sql.exec("UPDATE upload SET status = 'completed' WHERE one = 1");
    return ok(this.view(this.row()!));
  }

  async remove(owner: string): Promise<Result<{ id: string; deleted: true }>> {
    const found = this.owned(owner);
    if (!found.ok) return found;
    await this.discard("deleted");
    return ok({ id: found.value.id, deleted: true });
  }

  /** A job will read this upload: it must be complete, and it is kept while that job runs. */
  async attach(owner: string, jobId: string): Promise<Result<UploadMedia>> {
    const found = this.owned(owner);
    if (!found.ok) return found;
    const row = found.value;
    if (row.status !== "completed")
      return fail(409, "upload_not_ready", "this upload is still receiving parts: complete it (POST /v1/uploads/{id}/complete) first");
    const head = await this.bucket().head(row.id);
    if (!head) return fail(410, "upload_gone", "this upload's file is gone");
    this.sql.exec("INSERT OR IGNORE INTO readers (job_id) VALUES (?)", jobId);
    return ok({ size_bytes: head.size, content_type: row.content_type, etag: head.httpEtag, last_modified: head.uploaded.toUTCString() });
  }

  /** Expiry: the file goes once no job reads it; the key's bytes are given back (retried here until they are). */
  override async alarm(): Promise<void> {
    const row = this.row();
    if (!row) return;
    const now = Date.now();
    if (row.status !== "gone") {
      if (now < row.expires_at) {
        await this.ctx.storage.setAlarm(row.expires_at);
        return;
      }
      if (await this.stillRead(row.owner)) {
        this.sql.exec("UPDATE upload SET expires_at = ? WHERE one = 1", now + READER_GRACE_MS);
        await this.ctx.storage.setAlarm(now + READER_GRACE_MS);
        return;
      }
      await this.discard("expired");
      return;
    }
    await this.release(row);
  }

  private async stillRead(owner: string): Promise<boolean> {
    for (const { job_id } of this.sql.exec<{ job_id: string }>("SELECT job_id FROM readers").toArray()) {
      const job = await jobStub(this.env, job_id).get(owner);
      if (job.ok && !FINAL_STATUSES.has(job.value.status)) return true;
      this.sql.exec("DELETE FROM readers WHERE job_id = ?", job_id);
    }
    return false;
  }

  private async discard(reason: "expired" | "deleted"): Promise<void> {
    const row = this.row()!;
    if (row.status === "uploading" && row.r2_upload_id !== null) {
      await this.bucket()
        .resumeMultipartUpload(row.id, row.r2_upload_id)
        .abort()
        .catch(() => undefined); // already aborted or completed: the delete below covers it
    }
    await this.bucket().delete(row.id);
    this.sql.exec("UPDATE upload SET status = 'gone', gone_reason = ? WHERE one = 1", reason);
    this.sql.exec("DELETE FROM parts");
    await this.release(this.row()!);
  }

  private async release(row: Row): Promise<void> {
    if (row.released === 1) return;
    try {
      await keyIndexForUploads(this.env, row.owner).releaseUpload(row.id);
      this.sql.exec("UPDATE upload SET released = 1 WHERE one = 1");
    } catch (error) {
      console.error(`upload ${row.id}: giving its bytes back to the key failed; retrying`, error);
      await this.ctx.storage.setAlarm(Date.now() + 30_000);
    }
  }

  /** The upload, if `owner` made it: another key's upload is as unknown to it as one never made. */
  private owned(owner: string): Result<Row> {
    const row = this.row();
    if (!row || row.owner !== owner) return fail(404, "not_found", "no such upload for this API key");
    if (row.status === "gone") {
      return fail(
        410,
        "upload_gone",
        row.gone_reason === "deleted" ? "this upload was deleted" : "this upload expired (UPLOAD_TTL_HOURS after it was made); upload the file again",
      );
    }
    return ok(row);
  }

  private row(): Row | null {
    return this.sql.exec<Row>("SELECT * FROM upload").toArray()[0] ?? null;
  }

  private parts(): Array<{ part_number: number; size_bytes: number; etag: string }> {
    return this.sql
      .exec<{ part_number: number; size_bytes: number; etag: string }>("SELECT part_number, size_bytes, etag FROM parts ORDER BY part_number")
      .toArray();
  }

  private view(row: Row): Upload {
    return {
      id: row.id,
      object: "upload",
      status: row.status === "completed" ? "completed" : "uploading",
      size_bytes: row.size_bytes,
      content_type: row.content_type,
      filename: row.filename,
      part_size_bytes: row.part_size_bytes,
      parts_total: row.parts_total,
      parts: this.parts().map(({ part_number, size_bytes }) => ({ part_number, size_bytes })),
      created_at: row.created_at,
      expires_at: row.expires_at,
      content_url: null,
    };
  }

  private bucket(): R2Bucket {
    return this.env.UPLOADS;
  }
}
