import type { Context } from "hono";
import { CreateTranscriptionRequest, type CreatedTranscription, speakerCountProblem, speakerCounts, type TranscriptionJob } from "../../shared/api.ts";
import type { AppEnv } from "../app-env.ts";
import { parseWith, readJson } from "../body.ts";
import { type Config, publicBase, readConfig } from "../config.ts";
import { ApiError, unwrap } from "../errors.ts";
import { derivedId, newId, sha256Hex } from "../../shared/ids.ts";
import { jobStub, keyIndexStub, uploadStub } from "../job-stubs.ts";
import { checkMedia, type MediaInfo } from "../media-check.ts";
import { checkUrl, checkWebhookUrl } from "../url-safety.ts";

const MEDIA_FETCH = { timeoutMs: 10_000, maxRedirects: 5 };
/** When a key at its job limit is told to try again. */
const RETRY_AFTER_SEC = 30;

/** POST /v1/transcriptions */
export async function createTranscription(c: Context<AppEnv>): Promise<Response> {
  const body = parseWith(CreateTranscriptionRequest, await readJson(c.req.raw));
  const idempotencyKey = c.req.header("idempotency-key")?.trim() || null;
  if (idempotencyKey !== null && idempotencyKey.length > 255) {
    throw new ApiError(400, "invalid_request", "Idempotency-Key must be at most 255 characters", "Idempotency-Key");
  }
  const { job, existing } = await startTranscription(c, body, idempotencyKey);
  return c.json(created(c, job), existing ? 200 : 202);
}

/**
 * Makes the job a checked request asks for (the public route, and the
 * OpenAI-compatible one), or finds the one its Idempotency-Key made.
 */
export async function startTranscription(
  c: Context<AppEnv>,
  body: CreateTranscriptionRequest,
  idempotencyKey: string | null,
): Promise<{ job: TranscriptionJob; existing: boolean }> {
  const countProblem = speakerCountProblem(body);
  if (countProblem) throw new ApiError(400, "invalid_request", countProblem.message, countProblem.param);
  const config = readConfig(c.env);
  const keyId = c.get("keyId");
  const policy = { allowLoopback: config.allowLoopbackUrls };
  const index = keyIndexStub(c.env, keyId);
  // With an Idempotency-Key the job id comes from it: a retry whose first attempt died
  // after making the job (or before saying so) finds that job instead of making another.
  const jobId = idempotencyKey === null ? newId("tr") : await derivedId("tr", keyId, idempotencyKey);
  if (idempotencyKey !== null) {
    // The parsed body, keys sorted: the same request written with other key
    // order, or with defaults spelled out, is the same request.
    const reservation = await index.reserve(idempotencyKey, await sha256Hex(canonicalJson(body)), jobId);
    switch (reservation.kind) {
      case "new":
        break;
      case "conflict":
        throw new ApiError(409, "idempotency_conflict", "this Idempotency-Key was already used with a different request body");
      case "existing": {
        if (!reservation.committed) {
          throw new ApiError(409, "idempotency_in_progress", "a request with this Idempotency-Key is still being processed; retry shortly");
        }
        return { job: unwrap(await jobStub(c.env, reservation.job_id).get(keyId)), existing: true };
      }
      default:
        reservation satisfies never;
    }
  }

  try {
    await checkQuotas(index, config);
    if (body.webhook_url !== undefined) {
      const verdict = checkWebhookUrl(body.webhook_url, policy);
      if (!verdict.ok) throw new ApiError(verdict.code === "invalid_url" ? 400 : 422, verdict.code, `webhook_url: ${verdict.message}`, "webhook_url");
    }
    const source = await mediaSource(c, body, jobId, policy);

    const now = Date.now();
    const job = unwrap(
      await jobStub(c.env, jobId).create(
        {
          id: jobId,
          owner: keyId,
          created_at: now,
          audio_url: source.audio_url,
          upload_id: source.upload_id,
          options: {
            language: body.language,
            macro_chunk_sec: body.macro_chunk_sec,
            micro_chunk_sec: body.micro_chunk_sec,
            word_timestamps: body.word_timestamps,
            ...(body.prompt !== undefined ? { prompt: body.prompt } : {}),
            task: body.task,
            temperature: body.temperature,
            // Only a diarized job stores speaker options, so every other job's options read as before.
            ...(body.diarize === true ? { diarize: true, ...speakerCounts(body) } : {}),
          },
          webhook: body.webhook_url === undefined ? null : { url: body.webhook_url, events: [...new Set(body.webhook_events ?? [])] },
          metadata: body.metadata ?? null,
          media: source.media,
        },
        idempotencyKey,
      ),
    );
    return { job, existing: false };
  } catch (error) {
    if (idempotencyKey !== null) await index.release(idempotencyKey, jobId);
    throw error;
  }
}

/**
 * What the job reads: a public URL, checked from here (HEAD, then a one-byte
 * range); or one of the key's own uploads, which the job then keeps from
 * expiring while it runs. An upload's URL is the content route without a
 * token: machines get it signed with each task (routes/machine.ts).
 */
async function mediaSource(
  c: Context<AppEnv>,
  body: CreateTranscriptionRequest,
  jobId: string,
  policy: { allowLoopback: boolean },
): Promise<{ audio_url: string; upload_id: string | null; media: MediaInfo }> {
  if ((body.audio_url === undefined) === (body.upload_id === undefined)) {
    throw new ApiError(400, "invalid_request", "give exactly one of audio_url (a public URL) and upload_id (a completed upload of yours)", "audio_url");
  }
  if (body.upload_id !== undefined) {
    const found = await uploadStub(c.env, body.upload_id).attach(c.get("keyId"), jobId);
    if (!found.ok) throw new ApiError(found.error.status, found.error.code, `upload_id: ${found.error.message}`, "upload_id");
    const upload = found.value;
    return {
      audio_url: `${publicBase(c.env, c.req.url)}/v1/uploads/${body.upload_id}/content`,
      upload_id: body.upload_id,
      media: { size_bytes: upload.size_bytes, content_type: upload.content_type, etag: upload.etag, last_modified: upload.last_modified },
    };
  }
  const verdict = checkUrl(body.audio_url!, policy);
  if (!verdict.ok) throw new ApiError(verdict.code === "invalid_url" ? 400 : 422, verdict.code, `audio_url: ${verdict.message}`, "audio_url");
  return { audio_url: verdict.url.href, upload_id: null, media: await checkMedia(verdict.url.href, { ...policy, ...MEDIA_FETCH }) };
}

/** The key's quotas, counted by its index: unfinished jobs, and hours of their planned audio. */
async function checkQuotas(index: ReturnType<typeof keyIndexStub>, config: Config): Promise<void> {
  if (config.maxActiveJobsPerKey === 0 && config.maxAudioHoursInFlightPerKey === 0) return;
  const load = await index.load();
  if (config.maxActiveJobsPerKey > 0 && load.jobs >= config.maxActiveJobsPerKey) {
    const message = `this API key has ${load.jobs} unfinished jobs, as many as it may have at once (MAX_ACTIVE_JOBS_PER_KEY); retry when one finishes, or cancel one`;
    throw new ApiError(429, "too_many_jobs", message, undefined, RETRY_AFTER_SEC);
  }
  if (config.maxAudioHoursInFlightPerKey > 0 && load.audio_sec >= config.maxAudioHoursInFlightPerKey * 3600) {
    const message = `this API key has ${(load.audio_sec / 3600).toFixed(1)} h of audio unfinished, its limit is ${config.maxAudioHoursInFlightPerKey} h (MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY); retry when a job finishes`;
    throw new ApiError(429, "too_much_audio", message, undefined, RETRY_AFTER_SEC);
  }
}

function created(c: Context<AppEnv>, job: TranscriptionJob): CreatedTranscription {
  const base = publicBase(c.env, c.req.url);
  const statusUrl = `${base}/v1/transcriptions/${job.id}`;
  return { id: job.id, status: job.status, status_url: statusUrl, transcript_url: `${statusUrl}/transcript`, created_at: job.created_at };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
