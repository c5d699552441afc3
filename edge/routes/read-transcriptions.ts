import type { Context } from "hono";
import type { TranscriptionList } from "../../shared/api.ts";
import { FILE_EXTENSIONS, isTranscriptFormat, TRANSCRIPT_FORMATS } from "../../shared/formats/render.ts";
import type { AppEnv } from "../app-env.ts";
import { ApiError, unwrap } from "../errors.ts";
import { jobStub, keyIndexStub } from "../job-stubs.ts";

/** GET /v1/transcriptions/:id */
export async function getTranscription(c: Context<AppEnv>): Promise<Response> {
  return c.json(unwrap(await jobStub(c.env, c.req.param("id")!).get(c.get("keyId"))));
}

/** POST /v1/transcriptions/:id/cancel */
export async function cancelTranscription(c: Context<AppEnv>): Promise<Response> {
  return c.json(unwrap(await jobStub(c.env, c.req.param("id")!).cancel(c.get("keyId"))));
}

/** DELETE /v1/transcriptions/:id */
export async function deleteTranscription(c: Context<AppEnv>): Promise<Response> {
  const id = c.req.param("id")!;
  const keyId = c.get("keyId");
  const erased = await jobStub(c.env, id).erase(keyId);
  // Also when the job is gone already: a delete whose index removal failed is retried, and
  // the retry must finish it rather than leave the list an entry for good. Only the
  // caller's own index is touched.
  await keyIndexStub(c.env, keyId).remove(id);
  unwrap(erased);
  return c.body(null, 204);
}

/** GET /v1/transcriptions/:id/transcript?format=&partial= */
export async function getTranscript(c: Context<AppEnv>): Promise<Response> {
  const id = c.req.param("id")!;
  const format = c.req.query("format") ?? "json";
  if (!isTranscriptFormat(format)) {
    throw new ApiError(400, "invalid_request", `format must be one of ${TRANSCRIPT_FORMATS.join(", ")}`, "format");
  }
  const partial = parseBool(c.req.query("partial"), "partial");
  const transcript = unwrap(await jobStub(c.env, id).transcript(c.get("keyId"), format, partial));
  return new Response(transcript.body, {
    headers: {
      "content-type": transcript.content_type,
      "content-disposition": `inline; filename="${id}.${FILE_EXTENSIONS[format]}"`,
      "cache-control": "no-store",
    },
  });
}

/** GET /v1/transcriptions?limit=&cursor= */
export async function listTranscriptions(c: Context<AppEnv>): Promise<Response> {
  const limitText = c.req.query("limit") ?? "20";
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 100) {
    throw new ApiError(400, "invalid_request", "limit must be an integer from 1 to 100", "limit");
  }
  const keyId = c.get("keyId");
  const page = await keyIndexStub(c.env, keyId).list(limit, c.req.query("cursor") ?? null);
  if (page === null) throw new ApiError(400, "invalid_request", "cursor is not one this API returned", "cursor");
  const index = keyIndexStub(c.env, keyId);
  const jobs = await Promise.all(page.ids.map((id) => jobStub(c.env, id).get(keyId)));
  // A job erased (between the index read and this read, or by a delete whose index removal
  // failed) is left out, and its entry goes, so the list cannot fill with entries of nothing.
  await Promise.all(page.ids.filter((_, i) => !jobs[i]!.ok).map((id) => index.remove(id)));
  const body: TranscriptionList = {
    object: "list",
    data: jobs.flatMap((r) => (r.ok ? [r.value] : [])),
    has_more: page.next_cursor !== null,
    next_cursor: page.next_cursor,
  };
  return c.json(body);
}

function parseBool(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw new ApiError(400, "invalid_request", `${name} must be true or false`, name);
}
