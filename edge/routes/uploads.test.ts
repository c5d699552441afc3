import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Task } from "../../shared/protocol.ts";
import type { Upload } from "../../shared/uploads.ts";
import { BASE, call, expectError, getJob, KEY_A, KEY_B, KEY_C, reportRow } from "../test-helpers.ts";
import { claimFor, post } from "./machine-test-helpers.ts";

// The "edge" project sets UPLOAD_PART_MB=5 (R2's smallest part), MAX_REQUEST_BODY_MB=12 and MAX_UPLOAD_GB_PER_KEY=0.06.
const PART = 5 * 2 ** 20;

/** Deterministic bytes: byte i of a file is a function of i, so any range can be checked. */
function bytesAt(start: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => ((start + i) * 2654435761) >>> 24);
}

async function put(path: string, bytes: Uint8Array, key: string = KEY_A): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, { method: "PUT", headers: { authorization: `Bearer ${key}`, "content-type": "application/octet-stream" }, body: bytes });
}

async function whole(bytes: Uint8Array, type = "audio/mpeg", key: string = KEY_A): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": type, "x-file-name": "talk.mp3" },
    body: bytes,
  });
}

async function begin(size: number, key: string = KEY_A): Promise<Upload> {
  const r = await call("POST", "/v1/uploads", { key, body: { multipart: true, size_bytes: size, content_type: "audio/mpeg", filename: "long.mp3" } });
  expect(r.status).toBe(201);
  return (await r.json()) as Upload;
}

async function sendPart(up: Upload, n: number, key: string = KEY_A): Promise<Response> {
  const start = (n - 1) * up.part_size_bytes;
  return put(`/v1/uploads/${up.id}/parts/${n}`, bytesAt(start, Math.min(up.part_size_bytes, up.size_bytes - start)), key);
}

async function upload(up: string, key: string = KEY_A): Promise<Upload> {
  const r = await call("GET", `/v1/uploads/${up}`, { key });
  expect(r.status).toBe(200);
  return (await r.json()) as Upload;
}

async function sha(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("multipart uploads", () => {
  it("takes a file in parts, in any order, resumable from the parts it lists, and joins it byte for byte", async () => {
    const size = 3 * PART + 12_345;
    const up = await begin(size);
    expect(up).toMatchObject({ status: "uploading", part_size_bytes: PART, parts_total: 4, parts: [], content_url: null });
    // Out of order, and one part twice (a retry after a lost answer).
    for (const n of [3, 1, 1]) expect((await sendPart(up, n)).status).toBe(200);
    // A client that crashed here asks what arrived and sends the rest.
    const halfway = await upload(up.id);
    expect(halfway.parts).toEqual([
      { part_number: 1, size_bytes: PART },
      { part_number: 3, size_bytes: PART },
    ]);
    const missing = await expectError(await call("POST", `/v1/uploads/${up.id}/complete`), 409, "upload_incomplete");
    expect(missing.message).toContain("2 of 4 parts are missing: 2, 4");
    for (const n of [4, 2]) expect((await sendPart(up, n)).status).toBe(200);
    const done = await call("POST", `/v1/uploads/${up.id}/complete`);
    expect(done.status).toBe(200);
    const completed = (await done.json()) as Upload;
    expect(completed).toMatchObject({ status: "completed", size_bytes: size, parts_total: 4 });
    // Completing again is harmless; parts can no longer change.
    expect((await call("POST", `/v1/uploads/${up.id}/complete`)).status).toBe(200);
    await expectError(await sendPart(up, 1), 409, "upload_completed");

    // Read back at its signed URL: whole, and by range across a part boundary.
    const back = await SELF.fetch(completed.content_url!);
    expect(back.status).toBe(200);
    expect(await sha(await back.arrayBuffer())).toBe(await sha(bytesAt(0, size)));
    const across = await SELF.fetch(completed.content_url!, { headers: { range: `bytes=${PART - 5}-${PART + 4}` } });
    expect(across.status).toBe(206);
    expect(across.headers.get("content-range")).toBe(`bytes ${PART - 5}-${PART + 4}/${size}`);
    expect(new Uint8Array(await across.arrayBuffer())).toEqual(bytesAt(PART - 5, 10));
  });

  it("refuses parts of the wrong size or number, and bad starts, saying what is expected", async () => {
    const up = await begin(2 * PART + 10);
    const cases: Array<[string, Response, number, string]> = [
      ["a part one byte short", await put(`/v1/uploads/${up.id}/parts/1`, bytesAt(0, PART - 1)), 400, "invalid_request"],
      ["a last part too large", await put(`/v1/uploads/${up.id}/parts/3`, bytesAt(0, 11)), 400, "invalid_request"],
      ["part 0", await put(`/v1/uploads/${up.id}/parts/0`, bytesAt(0, PART)), 400, "invalid_request"],
      ["part 4 of 3", await put(`/v1/uploads/${up.id}/parts/4`, bytesAt(0, 10)), 400, "invalid_request"],
      ["an empty part", await put(`/v1/uploads/${up.id}/parts/1`, new Uint8Array(0)), 400, "invalid_request"],
      ["size 0", await call("POST", "/v1/uploads", { body: { multipart: true, size_bytes: 0 } }), 400, "invalid_request"],
      ["a typo'd field", await call("POST", "/v1/uploads", { body: { multipart: true, size_bytes: 10, filname: "x" } }), 400, "unknown_field"],
      ["a file over MAX_UPLOAD_GB", await call("POST", "/v1/uploads", { body: { multipart: true, size_bytes: 2 ** 50 } }), 413, "body_too_large"],
    ];
    for (const [what, r, status, code] of cases) {
      const body = (await r.json()) as { error?: { code?: string; message?: string } };
      const pass = r.status === status && body.error?.code === code;
      await reportRow({
        suite: "bad input: uploads",
        case: what,
        expected: `${status} ${code}`,
        observed: `${r.status} ${body.error?.code}: ${body.error?.message}`,
        pass,
      });
      expect([what, r.status, body.error?.code]).toEqual([what, status, code]);
    }
    const short = await put(`/v1/uploads/${up.id}/parts/1`, bytesAt(0, 100));
    expect(((await short.json()) as { error: { message: string } }).error.message).toContain(`exactly ${PART} bytes`);
  });

  it("belongs to the key that made it: other keys get 404 for every route, and a job of theirs cannot read it", async () => {
    const up = await begin(PART + 1);
    const theirs = [
      await call("GET", `/v1/uploads/${up.id}`, { key: KEY_B }),
      await sendPart(up, 1, KEY_B),
      await call("POST", `/v1/uploads/${up.id}/complete`, { key: KEY_B }),
      await call("DELETE", `/v1/uploads/${up.id}`, { key: KEY_B }),
      await call("POST", "/v1/transcriptions", { key: KEY_B, body: { upload_id: up.id } }),
    ];
    const seen = await Promise.all(theirs.map(async (r) => `${r.status} ${((await r.json()) as { error: { code: string } }).error.code}`));
    await reportRow({
      suite: "bad input: uploads",
      case: "another key reads, writes, completes, deletes or transcribes an upload",
      expected: "404 not_found ×5",
      observed: seen.join(", "),
      pass: seen.every((s) => s === "404 not_found"),
    });
    expect(seen).toEqual(Array(5).fill("404 not_found"));
    expect((await upload(up.id)).parts).toEqual([]); // untouched
  });

  it("a signed URL reads nothing without its token, with another upload's token, or once expired", async () => {
    const a = (await (await whole(bytesAt(0, 1000))).json()) as Upload;
    const b = (await (await whole(bytesAt(0, 1000))).json()) as Upload;
    const token = new URL(a.content_url!).searchParams.get("token")!;
    await expectError(await SELF.fetch(`${BASE}/v1/uploads/${a.id}/content`), 403, "forbidden");
    await expectError(await SELF.fetch(`${BASE}/v1/uploads/${b.id}/content?token=${token}`), 403, "forbidden");
    await expectError(await SELF.fetch(`${BASE}/v1/uploads/${a.id}/content?token=${token.slice(0, -2)}xx`), 403, "forbidden");
    const { signedUploadUrl } = await import("../uploads/upload-url.ts");
    const { TEST_WEBHOOK_SIGNING_KEY } = await import("../../test/support/test-secrets.ts");
    const old = await signedUploadUrl(TEST_WEBHOOK_SIGNING_KEY, BASE, a.id, Date.now() - 2 * 3600_000);
    const expired = await expectError(await SELF.fetch(old), 403, "forbidden");
    expect(expired.message).toContain("expired");
  });
});

describe("whole uploads", () => {
  it("stores a small file in one body and serves it with the validators the machines rely on", async () => {
    const bytes = bytesAt(0, 1000);
    const r = await whole(bytes);
    expect(r.status).toBe(201);
    const up = (await r.json()) as Upload;
    expect(up).toMatchObject({ status: "completed", size_bytes: 1000, content_type: "audio/mpeg", filename: "talk.mp3", parts_total: 1 });
    const head = await SELF.fetch(up.content_url!, { method: "HEAD" });
    expect([head.status, head.headers.get("content-length"), head.headers.get("accept-ranges"), head.headers.get("content-type")]).toEqual([
      200,
      "1000",
      "bytes",
      "audio/mpeg",
    ]);
    expect(head.headers.get("etag")).toBeTruthy();
    expect(head.headers.get("last-modified")).toBeTruthy();
    const probe = await SELF.fetch(up.content_url!, { headers: { range: "bytes=0-0" } });
    expect([probe.status, probe.headers.get("content-range")]).toEqual([206, "bytes 0-0/1000"]);
    const suffix = await SELF.fetch(up.content_url!, { headers: { range: "bytes=-3" } });
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(bytes.slice(997));
    await expectError(await SELF.fetch(up.content_url!, { headers: { range: "bytes=1000-" } }), 416, "range_not_satisfiable");
  });

  it("answers 413 with the limit beyond one request body, pointing at multipart", async () => {
    const error = await expectError(await whole(new Uint8Array(12_000_001)), 413, "body_too_large");
    await reportRow({
      suite: "bad input: uploads",
      case: "a whole upload over MAX_REQUEST_BODY_MB (12 MB here)",
      expected: "413 body_too_large naming the limit and multipart",
      observed: `413 body_too_large: ${error.message}`,
      pass: error.message.includes("12 MB") && error.message.includes("multipart"),
    });
    expect(error.message).toContain("12 MB");
    expect(error.message).toContain("multipart");
  });

  it("serves an upload that claims to be a web page as bytes to download, never as a page on this origin", async () => {
    const up = (await (await whole(new TextEncoder().encode("<script>alert(document.cookie)</script>"), "text/html")).json()) as Upload;
    const r = await SELF.fetch(up.content_url!);
    const served = [r.headers.get("content-type"), r.headers.get("x-content-type-options"), r.headers.get("content-disposition")];
    await r.arrayBuffer();
    await reportRow({
      suite: "bad input: uploads",
      case: "an upload sent as text/html, read back",
      expected: "application/octet-stream, nosniff, attachment",
      observed: served.join(", "),
      pass: served.join(", ") === "application/octet-stream, nosniff, attachment",
    });
    expect(served).toEqual(["application/octet-stream", "nosniff", "attachment"]);
  });

  it("refuses uploads without a key or a body, and unknown ids", async () => {
    await expectError(await call("POST", "/v1/uploads", { key: null, rawBody: "x" }), 401, "unauthorized");
    await expectError(await call("POST", "/v1/uploads", { rawBody: "", headers: { "content-type": "audio/mpeg" } }), 400, "invalid_request");
    await expectError(await call("GET", "/v1/uploads/up_0123456789abcdefghjkmnpq"), 404, "not_found");
    await expectError(await call("GET", "/v1/uploads/../../etc"), 404, "not_found");
    expect(await (await call("GET", "/healthz", { key: null })).json()).toEqual({ ok: true, uploads: true });
  });
});

describe("uploads and quota, expiry, deletion", () => {
  it("counts live uploads against the key's MAX_UPLOAD_GB_PER_KEY and gives the bytes back on delete", async () => {
    // 0.06 GiB ≈ 64.4 MB: two 30 MB uploads fit, a third does not until one is deleted (KEY_C: no other upload test spends it).
    const first = await begin(30_000_000, KEY_C);
    await begin(30_000_000, KEY_C);
    const over = await expectError(
      await call("POST", "/v1/uploads", { key: KEY_C, body: { multipart: true, size_bytes: 30_000_000 } }),
      429,
      "too_much_stored",
    );
    expect(over.message).toContain("MAX_UPLOAD_GB_PER_KEY");
    // Another key has its own.
    await begin(30_000_000, KEY_B);
    expect((await call("DELETE", `/v1/uploads/${first.id}`, { key: KEY_C })).status).toBe(200);
    await expectError(await call("GET", `/v1/uploads/${first.id}`, { key: KEY_C }), 410, "upload_gone");
    await begin(30_000_000, KEY_C);
  });

  it("expires an upload nobody reads; one a job still reads stays until the job ends", async () => {
    const lonely = (await (await whole(bytesAt(0, 1000))).json()) as Upload;
    const read = (await (await whole(bytesAt(0, 1000))).json()) as Upload;
    const job = (await (await call("POST", "/v1/transcriptions", { body: { upload_id: read.id } })).json()) as { id: string };
    for (const up of [lonely, read]) {
      const stub = env.UPLOAD.get(env.UPLOAD.idFromName(up.id));
      await runInDurableObject(stub, (_o, state) => state.storage.sql.exec("UPDATE upload SET expires_at = 0"));
      await runDurableObjectAlarm(stub);
    }
    const gone = await expectError(await call("GET", `/v1/uploads/${lonely.id}`), 410, "upload_gone");
    expect(gone.message).toContain("expired");
    await expectError(await SELF.fetch(lonely.content_url!), 410, "upload_gone");
    // The job's upload is kept (an hour at a time) while the job runs.
    expect((await upload(read.id)).expires_at).toBeGreaterThan(Date.now());
    expect((await SELF.fetch(read.content_url!)).status).toBe(200);
    expect((await call("POST", `/v1/transcriptions/${job.id}/cancel`)).status).toBe(200);
    const stub = env.UPLOAD.get(env.UPLOAD.idFromName(read.id));
    await runInDurableObject(stub, (_o, state) => state.storage.sql.exec("UPDATE upload SET expires_at = 0"));
    await runDurableObjectAlarm(stub);
    await expectError(await call("GET", `/v1/uploads/${read.id}`), 410, "upload_gone");
  });
});

describe("jobs on uploads", () => {
  it("a job reads an upload at URLs signed for each task; an unfinished upload, a missing one, or both sources are refused", async () => {
    const up = await begin(PART + 100);
    await expectError(await call("POST", "/v1/transcriptions", { body: { upload_id: up.id } }), 409, "upload_not_ready");
    await sendPart(up, 1);
    await sendPart(up, 2);
    await call("POST", `/v1/uploads/${up.id}/complete`);
    await expectError(
      await call("POST", "/v1/transcriptions", { body: { upload_id: up.id, audio_url: "https://media.test/audio.mp3" } }),
      400,
      "invalid_request",
    );
    await expectError(await call("POST", "/v1/transcriptions", { body: {} }), 400, "invalid_request");
    await expectError(await call("POST", "/v1/transcriptions", { body: { upload_id: "up_0123456789abcdefghjkmnpq" } }), 404, "not_found");

    const r = await call("POST", "/v1/transcriptions", { body: { upload_id: up.id } });
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    const job = await getJob(id);
    expect(job.audio_url).toBe(`${BASE}/v1/uploads/${up.id}/content`);
    // The job's own URL reads nothing; the task's, signed for it, does.
    await expectError(await SELF.fetch(job.audio_url), 403, "forbidden");
    const plan: Task = await claimFor(id, "plan");
    expect(plan.media_url.startsWith(`${BASE}/v1/uploads/${up.id}/content?token=ut1.`)).toBe(true);
    const first = await SELF.fetch(plan.media_url, { headers: { range: "bytes=0-0" } });
    expect([first.status, first.headers.get("content-range")]).toEqual([206, `bytes 0-0/${PART + 100}`]);
    await first.arrayBuffer();
    // Deleted while the job reads it: its URLs answer 410, which machines report as media_gone.
    expect((await call("DELETE", `/v1/uploads/${up.id}`)).status).toBe(200);
    const after = await SELF.fetch(plan.media_url, { headers: { range: "bytes=0-0" } });
    await reportRow({
      suite: "bad input: uploads",
      case: "an upload deleted while a job reads it, read at the task's URL",
      expected: "410 upload_gone",
      observed: `${after.status} ${((await after.json()) as { error: { code: string } }).error.code}`,
      pass: after.status === 410,
    });
    expect(after.status).toBe(410);
    expect((await post(plan, "fail", { retryable: false, code: "media_gone", message: "HTTP 410" })).status).toBe(200);
    expect((await getJob(id)).error?.code).toBe("media_gone");
  });
});
