import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { readConfig } from "../config.ts";
import { ApiError } from "../errors.ts";
import { newId } from "../ids.ts";

/**
 * Local mode's answer to "transcribe this file on my computer" from the web page:
 * the file goes into the local R2 bucket and is served back, with range reads,
 * at an unguessable URL that machines (and the page's <audio>) read without a key,
 * as they would read any signed media URL.
 */
export const MAX_UPLOAD_BYTES = 8 * 2 ** 30;
const UPLOAD_ID = /^up_[0-9a-hjkmnp-tv-z]{24}$/;

function bucket(c: Context<AppEnv>): R2Bucket {
  const uploads = c.env.UPLOADS;
  if (!readConfig(c.env).allowLoopbackUrls || !uploads) {
    throw new ApiError(404, "not_found", "file uploads exist only in local mode (npm start); give an audio_url instead");
  }
  return uploads;
}

/** POST /v1/uploads: the file is the body. */
export async function createUpload(c: Context<AppEnv>): Promise<Response> {
  const store = bucket(c);
  const length = Number(c.req.header("content-length") ?? "");
  if (!Number.isInteger(length) || length <= 0 || !c.req.raw.body) throw new ApiError(400, "invalid_request", "send the file as the request body, with a Content-Length");
  if (length > MAX_UPLOAD_BYTES) throw new ApiError(400, "body_too_large", `files are limited to ${MAX_UPLOAD_BYTES / 2 ** 30} GB`);
  const id = newId("up");
  const contentType = c.req.header("content-type") ?? "application/octet-stream";
  const name = (c.req.header("x-file-name") ?? "").slice(0, 255);
  const object = await store.put(id, c.req.raw.body, { httpMetadata: { contentType }, customMetadata: { name, owner: c.get("keyId") } });
  const base = readConfig(c.env).publicBaseUrl ?? new URL(c.req.url).origin;
  return c.json({ id, url: `${base}/v1/uploads/${id}`, size_bytes: object.size, content_type: contentType }, 201);
}

/** GET (and HEAD) /v1/uploads/:id, with Range. */
export async function readUpload(c: Context<AppEnv>): Promise<Response> {
  const store = bucket(c);
  const id = c.req.param("id") ?? "";
  if (!UPLOAD_ID.test(id)) throw new ApiError(404, "not_found", "no such upload");
  const head = await store.head(id);
  if (!head) throw new ApiError(404, "not_found", "no such upload");
  const range = parseRange(c.req.header("range"), head.size);
  const object = await store.get(id, range ? { range } : {});
  if (!object) throw new ApiError(404, "not_found", "no such upload");
  const headers = new Headers({ "accept-ranges": "bytes", etag: head.httpEtag, "last-modified": head.uploaded.toUTCString(), "cache-control": "private, no-store" });
  head.writeHttpMetadata(headers);
  if (!range) {
    headers.set("content-length", String(head.size));
    return new Response(object.body, { status: 200, headers });
  }
  headers.set("content-length", String(range.length));
  headers.set("content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
  return new Response(object.body, { status: 206, headers });
}

/** One `bytes=` range as offset and length, or null for the whole file; a range past the end is a 416. */
function parseRange(header: string | undefined, size: number): { offset: number; length: number } | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null; // not a form we serve: the whole file, as RFC 9110 allows
  if (m[1] === "") {
    const suffix = Math.min(Number(m[2]), size);
    if (suffix === 0) throw unsatisfiable(size);
    return { offset: size - suffix, length: suffix };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) throw unsatisfiable(size);
  return { offset: start, length: end - start + 1 };
}

function unsatisfiable(size: number): ApiError {
  return new ApiError(416, "range_not_satisfiable", `the file has ${size} bytes`);
}
