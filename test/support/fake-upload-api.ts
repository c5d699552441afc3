import { createWriteStream } from "node:fs";
import { rename } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { closeLocal, listenLocal } from "./local-server.ts";

/**
 * A stand-in for the API's multipart uploads (POST/GET/DELETE /v1/uploads,
 * PUT …/parts/{n}, POST …/complete) and for creating a job from an upload,
 * on 127.0.0.1, written from the API contract. Parts are streamed to files in
 * `dir` (or only counted, with `store: false`), so that a large upload costs
 * this process no memory. Faults are injected through its public fields.
 */

const MiB = 2 ** 20;

export interface FakeUpload {
  id: string;
  size_bytes: number;
  content_type: string;
  filename: string;
  part_size_bytes: number;
  parts: Map<number, number>;
  completed: boolean;
  created_at: number;
  expires_at: number;
}

export class FakeUploadApi {
  url = "";
  key = "lsk_upload_test_0123456789";
  partSizeBytes = 5 * MiB;
  /** Write parts to `dir`; false only counts their bytes. */
  store = true;
  uploads = new Map<string, FakeUpload>();
  /** Every PUT that reached the server, as `upload id:part`, whatever its answer. */
  puts: string[] = [];
  /** Part numbers to answer 503 once each (after reading the body), as an overloaded edge would. */
  failOnce = new Set<number>();
  /** Once this many parts are stored, further parts are read but never answered nor kept (the client has to give up on them). */
  holdAfterParts = Number.POSITIVE_INFINITY;
  /** Called after each part is stored. */
  onPart: (partNumber: number) => void = () => undefined;
  /** A part number to refuse with 400, every time. */
  refusePart: number | null = null;
  /** Upload ids to answer 410 upload_gone. */
  gone = new Set<string>();
  /** Job creations to refuse with 503 before one succeeds. */
  refuseCreates = 0;
  jobs: Array<Record<string, unknown>> = [];
  completes = 0;
  /** The most PUTs in progress at once. */
  maxInFlight = 0;
  private inFlight = 0;
  private lastPutAt = 0;
  private stored = 0;
  private next = 1;
  private server: Server = createServer((req, res) => {
    this.handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { error: { code: "fake", message: String(e) } });
    });
  });

  constructor(private readonly dir: string) {}

  async start(): Promise<void> {
    this.url = await listenLocal(this.server);
  }

  close(): Promise<void> {
    return closeLocal(this.server);
  }

  /**
   * Resolves once no part has been in progress for `ms`: a PUT the client
   * aborted may still reach the server just after the client has returned.
   */
  async quiet(ms = 100): Promise<void> {
    while (this.inFlight > 0 || Date.now() - this.lastPutAt < ms) await new Promise((r) => setTimeout(r, 10));
  }

  partPath(id: string, n: number): string {
    return join(this.dir, `${id}.part${n}`);
  }

  putsOf(id: string): number[] {
    return this.puts.filter((p) => p.startsWith(`${id}:`)).map((p) => Number(p.split(":")[1]));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${this.key}`) return send(res, 401, { error: { code: "unauthorized", message: "Invalid API key." } });
    const path = new URL(req.url ?? "/", this.url).pathname.split("/").slice(1);
    if (path[0] !== "v1") return send(res, 404, { error: { code: "not_found", message: "no route" } });
    if (path[1] === "transcriptions" && req.method === "POST" && path.length === 2) return this.createJob(req, res);
    if (path[1] !== "uploads") return send(res, 404, { error: { code: "not_found", message: "no route" } });
    if (req.method === "POST" && path.length === 2) return this.createUpload(req, res);

    const upload = this.uploads.get(path[2] ?? "");
    if (!upload) return send(res, 404, { error: { code: "not_found", message: "no such upload" } });
    if (this.gone.has(upload.id)) return send(res, 410, { error: { code: "upload_gone", message: "this upload expired" } });
    if (req.method === "GET" && path.length === 3) return send(res, 200, view(upload));
    if (req.method === "DELETE" && path.length === 3) {
      this.uploads.delete(upload.id);
      return send(res, 200, { id: upload.id, deleted: true });
    }
    if (req.method === "PUT" && path[3] === "parts" && path.length === 5) return this.putPart(upload, Number(path[4]), req, res);
    if (req.method === "POST" && path[3] === "complete" && path.length === 4) {
      this.completes++;
      const missing = [...Array(partsTotal(upload)).keys()].map((i) => i + 1).filter((n) => !upload.parts.has(n));
      if (missing.length > 0) return send(res, 409, { error: { code: "upload_incomplete", message: `parts missing: ${missing.join(", ")}` } });
      upload.completed = true;
      return send(res, 200, view(upload));
    }
    return send(res, 404, { error: { code: "not_found", message: "no route" } });
  }

  private async createUpload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = JSON.parse(await readText(req)) as { multipart?: unknown; size_bytes?: unknown; content_type?: unknown; filename?: unknown };
    if (body.multipart !== true || typeof body.size_bytes !== "number" || !(body.size_bytes > 0) || typeof body.content_type !== "string") {
      return send(res, 400, { error: { code: "invalid_request", message: "bad upload request" } });
    }
    const now = Date.now();
    const upload: FakeUpload = {
      id: `up_${String(this.next++).padStart(24, "0")}`,
      size_bytes: body.size_bytes,
      content_type: body.content_type,
      filename: typeof body.filename === "string" ? body.filename : "",
      part_size_bytes: this.partSizeBytes,
      parts: new Map(),
      completed: false,
      created_at: now,
      expires_at: now + 86_400_000,
    };
    this.uploads.set(upload.id, upload);
    send(res, 201, view(upload));
  }

  private async putPart(upload: FakeUpload, n: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.puts.push(`${upload.id}:${n}`);
    this.lastPutAt = Date.now();
    if (!(Number.isInteger(n) && n >= 1 && n <= partsTotal(upload))) return send(res, 400, { error: { code: "invalid_request", message: `no part ${n}` } });
    const expected = Math.min(upload.part_size_bytes, upload.size_bytes - (n - 1) * upload.part_size_bytes);
    // The platform needs a Content-Length; a chunked body would not do.
    if (req.headers["content-length"] !== String(expected)) {
      req.resume();
      return send(res, 400, { error: { code: "invalid_request", message: `part ${n} must be ${expected} bytes, not ${req.headers["content-length"]}` } });
    }
    // As it was when the part began: a part still arriving after a test lifts the hold stays held.
    const holdAfter = this.holdAfterParts;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on("close", () => {
      this.inFlight--;
      this.lastPutAt = Date.now();
    });
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    const temp = `${this.partPath(upload.id, n)}.tmp`;
    try {
      await pipeline(req, this.store ? createWriteStream(temp) : discard());
    } catch {
      return; // the client went away mid-part: nothing is kept
    }
    if (this.stored >= holdAfter) return; // read, never answered, never kept
    if (n === this.refusePart) return send(res, 400, { error: { code: "invalid_request", message: `part ${n} refused` } });
    if (this.failOnce.delete(n)) return send(res, 503, { error: { code: "unavailable", message: "try again" } });
    if (received !== expected) return send(res, 400, { error: { code: "invalid_request", message: `part ${n} was ${received} bytes` } });
    // Counted before the rename's wait, so that two parts ending together cannot both pass the hold.
    this.stored++;
    if (this.store) await rename(temp, this.partPath(upload.id, n));
    upload.parts.set(n, received);
    send(res, 200, { part_number: n, size_bytes: received });
    this.onPart(n);
  }

  private async createJob(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = JSON.parse(await readText(req)) as Record<string, unknown>;
    if (this.refuseCreates > 0) {
      this.refuseCreates--;
      return send(res, 503, { error: { code: "unavailable", message: "the queue is busy; try again" } });
    }
    const upload = this.uploads.get(String(body.upload_id));
    if (!upload?.completed) return send(res, 400, { error: { code: "invalid_request", message: "upload_id names no completed upload", param: "upload_id" } });
    this.jobs.push(body);
    const id = `tr_${String(this.jobs.length).padStart(24, "0")}`;
    send(res, 201, {
      id,
      status: "queued",
      status_url: `${this.url}/v1/transcriptions/${id}`,
      transcript_url: `${this.url}/v1/transcriptions/${id}/transcript`,
      created_at: new Date().toISOString(),
    });
  }
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

function partsTotal(upload: FakeUpload): number {
  return Math.ceil(upload.size_bytes / upload.part_size_bytes);
}

function view(upload: FakeUpload) {
  return {
    id: upload.id,
    object: "upload",
    status: upload.completed ? "completed" : "uploading",
    size_bytes: upload.size_bytes,
    content_type: upload.content_type,
    filename: upload.filename,
    part_size_bytes: upload.part_size_bytes,
    parts_total: partsTotal(upload),
    parts: [...upload.parts].sort(([a], [b]) => a - b).map(([part_number, size_bytes]) => ({ part_number, size_bytes })),
    created_at: upload.created_at,
    expires_at: upload.expires_at,
    content_url: null,
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
