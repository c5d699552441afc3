import type { Context } from "hono";
import { parseByteRange } from "../../shared/byte-range.ts";
import type { AppEnv } from "../app-env.ts";
import { publicBase, readConfig } from "../config.ts";
import { ApiError } from "../errors.ts";
import { idPattern, newId } from "../../shared/ids.ts";

/**
 * Local mode's answer to "transcribe this file on my computer" from the web page:
 * the file goes into the local R2 bucket and is served back, with range reads,
 * at an unguessable URL that machines (and the page's <audio>) read without a key,
 * as they would read any signed media URL.
 */
export const MAX_UPLOAD_BYTES = 8 * 2 ** 30;
const UPLOAD_ID = idPattern("up");

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
  if (!Number.isInteger(length) || length <= 0 || !c.req.raw.body)
    throw new ApiError(400, "invalid_request", "send the file as the request body, with a Content-Length");
  if (length > MAX_UPLOAD_BYTES) throw new ApiError(400, "body_too_large", `files are limited to ${MAX_UPLOAD_BYTES / 2 ** 30} GB`);
  const id = newId("up");
  const contentType = c.req.header("content-type") ?? "application/octet-stream";
  const name = (c.req.header("x-file-name") ?? "").slice(0, 255);
  const object = await store.put(id, c.req.raw.body, { httpMetadata: { contentType }, customMetadata: { name, owner: c.get("keyId") } });
  const base = publicBase(c.env, c.req.url);
  return c.json({ id, url: `${base}/v1/uploads/${id}`, size_bytes: object.size, content_type: contentType }, 201);
}

/** GET (and HEAD) /v1/uploads/:id, with Range. */
export async function readUpload(c: Context<AppEnv>): Promise<Response> {
  const store = bucket(c);
  const id = c.req.param("id") ?? "";
  if (!UPLOAD_ID.test(id)) throw new ApiError(404, "not_found", "no such upload");
  const head = await store.head(id);
  if (!head) throw new ApiError(404, "not_found", "no such upload");
  const range = parseByteRange(c.req.header("range"), head.size);
  if (range === "unsatisfiable") throw new ApiError(416, "range_not_satisfiable", `the file has ${head.size} bytes`);
  const object = await store.get(id, range ? { range: { offset: range.start, length: range.end - range.start + 1 } } : {});
  if (!object) throw new ApiError(404, "not_found", "no such upload");
  const headers = new Headers({
    "accept-ranges": "bytes",
    etag: head.httpEtag,
    "last-modified": head.uploaded.toUTCString(),
    "cache-control": "private, no-store",
    // Served from the page's own origin: never as a document a browser would run
    // (an upload that says text/html), only as audio or video, downloaded, unsniffed.
    "content-type": servedType(head.httpMetadata?.contentType),
    "x-content-type-options": "nosniff",
    "content-disposition": "attachment",
  });
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
