import type { Context } from "hono";
import { CreateTranscriptionRequest, type CreatedTranscription, type TranscriptionJob } from "../../shared/api.ts";
import type { AppEnv } from "../app-env.ts";
import { parseWith, readJson } from "../body.ts";
import { type Config, publicBase, readConfig } from "../config.ts";
import { ApiError, unwrap } from "../errors.ts";
import { derivedId, newId, sha256Hex } from "../../shared/ids.ts";
import { jobStub, keyIndexStub } from "../job-stubs.ts";
import { checkMedia } from "../media-check.ts";
import { checkUrl, checkWebhookUrl } from "../url-safety.ts";

const MEDIA_FETCH = { timeoutMs: 10_000, maxRedirects: 5 };
/** When a key at its job limit is told to try again. */
const RETRY_AFTER_SEC = 30;

/** POST /v1/transcriptions */
export async function createTranscription(c: Context<AppEnv>): Promise<Response> {
  const config = readConfig(c.env);
  const keyId = c.get("keyId");
  const raw = await readJson(c.req.raw);
  const body = parseWith(CreateTranscriptionRequest, raw);
  const policy = { allowLoopback: config.allowLoopbackUrls };

  const idempotencyKey = c.req.header("idempotency-key")?.trim() || null;
  if (idempotencyKey !== null && idempotencyKey.length > 255) {
    throw new ApiError(400, "invalid_request", "Idempotency-Key must be at most 255 characters", "Idempotency-Key");
  }
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
        const job = unwrap(await jobStub(c.env, reservation.job_id).get(keyId));
        return c.json(created(c, job), 200);
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
    const urlVerdict = checkUrl(body.audio_url, policy);
    if (!urlVerdict.ok) throw new ApiError(urlVerdict.code === "invalid_url" ? 400 : 422, urlVerdict.code, `audio_url: ${urlVerdict.message}`, "audio_url");
    const media = await checkMedia(urlVerdict.url.href, { ...policy, ...MEDIA_FETCH });

    const now = Date.now();
    const job = unwrap(
      await jobStub(c.env, jobId).create(
        {
          id: jobId,
          owner: keyId,
          created_at: now,
          audio_url: urlVerdict.url.href,
          options: {
            language: body.language,
            macro_chunk_sec: body.macro_chunk_sec,
            micro_chunk_sec: body.micro_chunk_sec,
            word_timestamps: body.word_timestamps,
          },
          webhook: body.webhook_url === undefined ? null : { url: body.webhook_url, events: [...new Set(body.webhook_events ?? [])] },
          metadata: body.metadata ?? null,
          media,
        },
        idempotencyKey,
      ),
    );
    return c.json(created(c, job), 202);
  } catch (error) {
    if (idempotencyKey !== null) await index.release(idempotencyKey, jobId);
    throw error;
  }
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
