import type { Context } from "hono";
import { parseByteRange } from "../../shared/byte-range.ts";
import { idPattern, newId } from "../../shared/ids.ts";
import { CreateMultipartUploadRequest, type Upload } from "../../shared/uploads.ts";
import type { AppEnv } from "../app-env.ts";
import { parseWith, readJson } from "../body.ts";
import { publicBase, readConfig, type UploadConfig } from "../config.ts";
import { ApiError, unwrap } from "../errors.ts";
import { keyIndexStub, uploadStub } from "../job-stubs.ts";
import { signedUploadUrl, uploadTokenValid } from "../uploads/upload-url.ts";

/**
 * Uploads: files sent to the API itself. Small ones as one body; large ones in
 * parts (R2 multipart: each part streams from the request into R2, so a 5 GB
 * file never sits in the Worker's memory beyond the part in flight), resumable
 * from what `GET /v1/uploads/{id}` lists. Machines read them back through
 * `/v1/uploads/{id}/content` at URLs the edge signs (upload-url.ts).
 */
const UPLOAD_ID = idPattern("up");
/** R2's limit on parts per upload. */
const MAX_PARTS = 10_000;
const MIB = 2 ** 20;

function uploadId(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!UPLOAD_ID.test(id)) throw new ApiError(404, "not_found", "no such upload for this API key");
  return id;
}

function bytesText(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(n % 2 ** 30 === 0 ? 0 : 1)} GiB` : `${Math.round(n / 1_000_000)} MB`;
}

/** POST /v1/uploads: `{ "multipart": true, … }` as JSON starts a multipart upload; any other body is the file itself. */
export async function createUpload(c: Context<AppEnv>): Promise<Response> {
  const limits = readConfig(c.env).uploads;
  const isJson = /^application\/json\b/i.test(c.req.header("content-type") ?? "");
  const upload = isJson ? await beginMultipart(c, limits) : await storeWhole(c, limits);
  return c.json(await withContentUrl(c, upload), 201);
}

async function beginMultipart(c: Context<AppEnv>, limits: UploadConfig): Promise<Upload> {
  const body = parseWith(CreateMultipartUploadRequest, await readJson(c.req.raw));
  checkFileSize(body.size_bytes, limits);
  // All parts but the last the same size, at most 10,000 of them, each one request body.
  const partBytes = Math.max(limits.partBytes, Math.ceil(body.size_bytes / MAX_PARTS / MIB) * MIB);
  if (partBytes > limits.maxBodyBytes) {
    throw new ApiError(
      413,
      "body_too_large",
      `a file of ${bytesText(body.size_bytes)} needs parts larger than one request body (${bytesText(limits.maxBodyBytes)})`,
    );
  }
  const id = newId("up");
  await holdBytes(c, id, body.size_bytes, limits);
  return released(c, id, () =>
    uploadStub(c.env, id).begin({
      id,
      owner: c.get("keyId"),
      size_bytes: body.size_bytes,
      content_type: body.content_type,
      filename: body.filename ?? null,
      part_size_bytes: partBytes,
      multipart: true,
      ttl_ms: limits.ttlMs,
    }),
  );
}

/** Bytes held for an upload that could not even begin are given back to the key. */
async function released<T>(c: Context<AppEnv>, id: string, begin: () => Promise<T>): Promise<T> {
  try {
    return await begin();
  } catch (error) {
    await keyIndexStub(c.env, c.get("keyId"))
      .releaseUpload(id)
      .catch(() => undefined);
    throw error;
  }
}

async function storeWhole(c: Context<AppEnv>, limits: UploadConfig): Promise<Upload> {
  const length = contentLength(c);
  if (length > limits.maxBodyBytes) {
    throw new ApiError(
      413,
      "body_too_large",
      `one request body takes at most ${bytesText(limits.maxBodyBytes)} on this deployment (MAX_REQUEST_BODY_MB, the platform's limit); send larger files as a multipart upload: POST /v1/uploads with {"multipart": true, "size_bytes": …}`,
    );
  }
  const type = c.req.header("content-type") ?? "application/octet-stream";
  return storeFile(c, c.req.raw.body!, length, type, (c.req.header("x-file-name") ?? "").slice(0, 255) || null);
}

/** Stores one whole file as a completed upload of the caller's (here, and for the OpenAI-compatible routes). */
export async function storeFile(
  c: Context<AppEnv>,
  body: ReadableStream | ArrayBuffer,
  length: number,
  contentType: string,
  filename: string | null,
): Promise<Upload> {
  const limits = readConfig(c.env).uploads;
  checkFileSize(length, limits);
  const id = newId("up");
  await holdBytes(c, id, length, limits);
  const stub = uploadStub(c.env, id);
  const owner = c.get("keyId");
  await released(c, id, () =>
    stub.begin({ id, owner, size_bytes: length, content_type: contentType, filename, part_size_bytes: length, multipart: false, ttl_ms: limits.ttlMs }),
  );
  const object = await c.env.UPLOADS.put(id, body, { httpMetadata: { contentType }, customMetadata: { owner } });
  return unwrap(await stub.stored(owner, object.size, object.httpEtag));
}

function contentLength(c: Context<AppEnv>): number {
  const length = Number(c.req.header("content-length") ?? "");
  if (!Number.isInteger(length) || length <= 0 || !c.req.raw.body)
    throw new ApiError(400, "invalid_request", "send the bytes as the request body, with a Content-Length");
  return length;
}

function checkFileSize(size: number, limits: UploadConfig): void {
  if (size > limits.maxFileBytes) throw new ApiError(413, "body_too_large", `files are limited to ${bytesText(limits.maxFileBytes)} (MAX_UPLOAD_GB)`);
}

async function holdBytes(c: Context<AppEnv>, id: string, size: number, limits: UploadConfig): Promise<void> {
  const held = await keyIndexStub(c.env, c.get("keyId")).holdUpload(id, size, limits.maxBytesPerKey);
  if (!held.ok) {
    throw new ApiError(
      429,
      "too_much_stored",
      `this API key's live uploads hold ${bytesText(held.held_bytes)}; with ${bytesText(size)} more they would pass its ${bytesText(limits.maxBytesPerKey)} (MAX_UPLOAD_GB_PER_KEY): delete uploads you no longer need, or wait for them to expire`,
    );
  }
}

/** PUT /v1/uploads/:id/parts/:n: the part's bytes, streamed into R2. */
export async function putUploadPart(c: Context<AppEnv>): Promise<Response> {
  const id = uploadId(c);
  const n = Number(c.req.param("n"));
  const length = contentLength(c);
  const owner = c.get("keyId");
  const stub = uploadStub(c.env, id);
  const target = unwrap(await stub.partTarget(owner, n, length));
  const part = await c.env.UPLOADS.resumeMultipartUpload(target.key, target.r2_upload_id).uploadPart(n, c.req.raw.body!);
  return c.json(unwrap(await stub.partStored(owner, n, length, part.etag)));
}

/** GET /v1/uploads/:id: the upload and the parts received, so a broken upload can resume. */
export async function getUpload(c: Context<AppEnv>): Promise<Response> {
  return c.json(await withContentUrl(c, unwrap(await uploadStub(c.env, uploadId(c)).get(c.get("keyId")))));
}

/** POST /v1/uploads/:id/complete */
export async function completeUpload(c: Context<AppEnv>): Promise<Response> {
  return c.json(await withContentUrl(c, unwrap(await uploadStub(c.env, uploadId(c)).complete(c.get("keyId")))));
}

/** DELETE /v1/uploads/:id */
export async function deleteUpload(c: Context<AppEnv>): Promise<Response> {
  return c.json(unwrap(await uploadStub(c.env, uploadId(c)).remove(c.get("keyId"))));
}

async function withContentUrl(c: Context<AppEnv>, upload: Upload): Promise<Upload> {
  if (upload.status !== "completed") return upload;
  return { ...upload, content_url: await signedUploadUrl(readConfig(c.env).webhookSigningKey, publicBase(c.env, c.req.url), upload.id) };
}

/** GET (and HEAD) /v1/uploads/:id/content?token=…: the file, with Range, for whoever holds a signed URL. */
export async function readUploadContent(c: Context<AppEnv>): Promise<Response> {
  const id = uploadId(c);
  const verdict = await uploadTokenValid(readConfig(c.env).webhookSigningKey, id, c.req.query("token") ?? "");
  if (verdict === "invalid") throw new ApiError(403, "forbidden", "this URL's token is not valid for this upload; ask for a new URL (GET /v1/uploads/{id})");
  if (verdict === "expired") throw new ApiError(403, "forbidden", "this URL has expired; ask for a new one (GET /v1/uploads/{id})");
  const head = await c.env.UPLOADS.head(id);
  if (!head) throw new ApiError(410, "upload_gone", "this upload was deleted or has expired");
  const range = parseByteRange(c.req.header("range"), head.size);
  if (range === "unsatisfiable") throw new ApiError(416, "range_not_satisfiable", `the file has ${head.size} bytes`);
  const headers = new Headers({
    "accept-ranges": "bytes",
    etag: head.httpEtag,
    "last-modified": head.uploaded.toUTCString(),
    "cache-control": "private, no-store",
    // Served from the API's own origin: never as a document a browser would run
    // (an upload that says text/html), only as audio or video, downloaded, unsniffed.
    "content-type": servedType(head.httpMetadata?.contentType),
    "x-content-type-options": "nosniff",
    "content-disposition": "attachment",
  });
  if (c.req.method === "HEAD") {
    headers.set("content-length", String(head.size));
    return new Response(null, { status: 200, headers });
  }
  const object = await c.env.UPLOADS.get(id, range ? { range: { offset: range.start, length: range.end - range.start + 1 } } : {});
  if (!object) throw new ApiError(410, "upload_gone", "this upload was deleted or has expired");
  if (!range) {
    headers.set("content-length", String(head.size));
    return new Response(object.body, { status: 200, headers });
  }
  headers.set("content-length", String(range.end - range.start + 1));
  headers.set("content-range", `bytes ${range.start}-${range.end}/${head.size}`);
  return new Response(object.body, { status: 206, headers });
}

/** The uploader's type when it is audio or video, else bytes. */
function servedType(type: string | undefined): string {
  const bare = (type ?? "").split(";")[0]!.trim().toLowerCase();
  return /^(audio|video)\/[a-z0-9.+-]+$/.test(bare) ? bare : "application/octet-stream";
}
