import type { Context, MiddlewareHandler } from "hono";
import { CreateTranscriptionRequest, FINAL_STATUSES, type TranscriptionJob } from "../../shared/api.ts";
import type { ApiErrorCode } from "../../shared/error-codes.ts";
import {
  OPENAI_RESPONSE_FORMATS,
  type OpenAiResponseFormat,
  type OurVerboseTranscript,
  toOpenAiDiarized,
  toOpenAiVerbose,
} from "../../shared/formats/openai.ts";
import type { TranscriptFormat } from "../../shared/formats/render.ts";
import { sleep } from "../../shared/sleep.ts";
import type { AppEnv } from "../app-env.ts";
import { parseWith } from "../body.ts";
import { readConfig } from "../config.ts";
import { ApiError, unwrap } from "../errors.ts";
import { jobStub, uploadStub } from "../job-stubs.ts";
import { startTranscription } from "./create-transcription.ts";
import { storeFile } from "./uploads.ts";

/**
 * OpenAI's `/v1/audio/transcriptions` and `/v1/audio/translations`, so client
 * code written for OpenAI works unchanged. Synchronous as OpenAI's are: the file
 * becomes an upload, the upload a normal job (listed, with usage), and the
 * answer comes when the job ends, in OpenAI's shapes and OpenAI's error shape.
 */
type Task = "transcribe" | "translate";

/** How often a waiting request looks at its job: soon at first, then every few seconds (each look is one object call). */
const POLL_MS = [500, 1000, 2000, 3000];

/** OpenAI's error shape: `{ error: { message, type, param, code } }`. */
function openAiError(error: unknown): Response {
  const e = error instanceof ApiError ? error : new ApiError(500, "internal_error", "the server failed; retrying is safe");
  if (!(error instanceof ApiError)) console.error("openai-compatible route failed", error);
  const type = e.status === 401 ? "authentication_error" : e.status === 429 ? "rate_limit_error" : e.status >= 500 ? "server_error" : "invalid_request_error";
  const headers = e.retryAfterSec !== undefined ? { "retry-after": String(e.retryAfterSec) } : undefined;
  return Response.json({ error: { message: e.message, type, param: e.param ?? null, code: e.code } }, { status: e.status, ...(headers ? { headers } : {}) });
}

/** Answers errors raised before the handler (the key check, the rate limit) in OpenAI's shape too. */
export const openAiErrorShape: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.error) c.res = openAiError(c.error);
};

export function openAiAudio(task: Task) {
  return async (c: Context<AppEnv>): Promise<Response> => {
    try {
      return await handle(c, task);
    } catch (error) {
      return openAiError(error);
    }
  };
}

function invalid(param: string, message: string, code: ApiErrorCode = "invalid_request"): ApiError {
  return new ApiError(400, code, message, param);
}

async function handle(c: Context<AppEnv>, task: Task): Promise<Response> {
  const config = readConfig(c.env);
  if (!/^multipart\/form-data\b/i.test(c.req.header("content-type") ?? "")) {
    throw invalid("file", "send multipart/form-data with a `file` and a `model`, as OpenAI's API takes them");
  }
  const length = Number(c.req.header("content-length") ?? "NaN");
  if (Number.isFinite(length) && length > config.openai.maxFileBytes + 64 * 1024) {
    throw new ApiError(
      413,
      "body_too_large",
      `this route takes files up to ${config.openai.maxFileBytes / 1_000_000} MB (OPENAI_MAX_FILE_MB); for larger files use POST /v1/uploads (multipart) and POST /v1/transcriptions`,
      "file",
    );
  }
  let form: FormData;
  try {
    form = await c.req.raw.formData();
  } catch {
    throw invalid("file", "the multipart/form-data body could not be read");
  }
  const file = form.get("file");
  if (file === null || typeof file === "string") throw invalid("file", "a `file` part with the recording is required");
  if (file.size === 0) throw invalid("file", "the file is empty");
  if (file.size > config.openai.maxFileBytes)
    throw new ApiError(413, "body_too_large", `files are limited to ${config.openai.maxFileBytes / 1_000_000} MB here`, "file");

  const model = text(form, "model");
  if (model === undefined) throw invalid("model", "`model` is required (e.g. whisper-1)");
  if (!config.openai.models.includes(model)) {
    throw invalid("model", `the model \`${model}\` does not exist here; use one of: ${config.openai.models.join(", ")}`, "model_not_found");
  }
  const format = (text(form, "response_format") ?? "json") as OpenAiResponseFormat;
  if (!OPENAI_RESPONSE_FORMATS.includes(format)) throw invalid("response_format", `response_format must be one of ${OPENAI_RESPONSE_FORMATS.join(", ")}`);
  const granularityList = [...form.getAll("timestamp_granularities[]"), ...form.getAll("timestamp_granularities")].map(String);
  for (const g of granularityList)
    if (g !== "word" && g !== "segment") throw invalid("timestamp_granularities", `unknown granularity "${g}": use word or segment`);
  if (granularityList.length > 0 && format !== "verbose_json") {
    throw invalid("timestamp_granularities", "timestamp_granularities needs response_format verbose_json");
  }
  const granularities = { word: granularityList.includes("word"), segment: granularityList.length === 0 || granularityList.includes("segment") };
  const temperatureText = text(form, "temperature");
  const temperature = temperatureText === undefined ? undefined : Number(temperatureText);

  // A translation is English whatever was spoken: the language is found by the model.
  const language = task === "translate" ? undefined : text(form, "language");
  // Checked before the file is stored: a bad option costs the caller nothing.
  const body = parseWith(CreateTranscriptionRequest.omit({ audio_url: true, upload_id: true }), {
    ...(language !== undefined ? { language } : {}),
    ...(text(form, "prompt") !== undefined ? { prompt: text(form, "prompt") } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    task,
    word_timestamps: granularities.word,
    ...(format === "diarized_json" ? { diarize: true } : {}),
    metadata: { source: `openai:${task === "translate" ? "translations" : "transcriptions"}`, model },
  });
  const upload = await storeFile(c, await file.arrayBuffer(), file.size, file.type || "application/octet-stream", file.name || null);
  let job: TranscriptionJob;
  try {
    ({ job } = await startTranscription(c, { ...body, upload_id: upload.id }, null));
  } catch (error) {
    // No job (a quota, a bad file): the copy made for it would only hold the key's storage.
    await uploadStub(c.env, upload.id)
      .remove(c.get("keyId"))
      .catch(() => undefined);
    throw error;
  }
  const done = await waitForEnd(c, job);
  return answer(c, done, task, format, granularities);
}

function text(form: FormData, name: string): string | undefined {
  const value = form.get(name);
  return typeof value === "string" && value.trim().length > 0 ? value.trim() : undefined;
}

/** Polls the job until it ends; a client that hangs up stops the wait, not the job (it stays in the list). */
async function waitForEnd(c: Context<AppEnv>, job: TranscriptionJob): Promise<TranscriptionJob> {
  const stub = jobStub(c.env, job.id);
  let current = job;
  for (let i = 0; !FINAL_STATUSES.has(current.status); i++) {
    if (c.req.raw.signal.aborted) {
      throw new ApiError(409, "not_ready", `the client went away before ${job.id} ended; it keeps running: GET /v1/transcriptions/${job.id}`);
    }
    await sleep(POLL_MS[Math.min(i, POLL_MS.length - 1)]!);
    current = unwrap(await stub.get(c.get("keyId")));
  }
  return current;
}

async function answer(
  c: Context<AppEnv>,
  job: TranscriptionJob,
  task: Task,
  format: OpenAiResponseFormat,
  granularities: { word: boolean; segment: boolean },
): Promise<Response> {
  if (job.status === "canceled") throw new ApiError(409, "job_finished", `the transcription ${job.id} was canceled`);
  if (job.status === "failed") {
    const code = job.error?.code ?? "internal_error";
    // The file's fault is the caller's to fix (400); the service's is a 500 to retry.
    const callers = ["not_media", "empty_media", "decode_failed", "media_too_long", "media_gone", "url_not_allowed"];
    const status = callers.includes(code) ? 400 : 500;
    // The job's own code, passed through as OpenAI clients read `error.code`.
    throw new ApiError(status as 400, code as ApiErrorCode, `transcription ${job.id} failed: ${code}: ${job.error?.message ?? ""}`);
  }
  const ours: TranscriptFormat = format === "verbose_json" || format === "json" || format === "diarized_json" ? "verbose_json" : format;
  const transcript = unwrap(await jobStub(c.env, job.id).transcript(c.get("keyId"), ours, false));
  const body = await new Response(transcript.body).text();
  const headers = { "x-longscribe-transcription-id": job.id };
  if (format === "json" || format === "verbose_json" || format === "diarized_json") {
    const parsed = JSON.parse(body) as OurVerboseTranscript;
    if (format === "diarized_json") return c.json(toOpenAiDiarized(parsed), 200, headers);
    return format === "json" ? c.json({ text: parsed.text }, 200, headers) : c.json(toOpenAiVerbose(parsed, task, granularities), 200, headers);
  }
  return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}
