/**
 * Every error code the API answers with, and every code a failed job can carry,
 * with what it means for the caller. The edge's error type only takes codes from
 * here, so the OpenAPI document (built from this list) cannot miss one.
 */
export const API_ERROR_CODES = {
  invalid_request: { status: 400, description: "A field or query parameter is missing or has a wrong value; `param` names it." },
  invalid_json: { status: 400, description: "The body is empty or not JSON." },
  unknown_field: { status: 400, description: "The body has a field this API does not know (often a typo); `param` names it." },
  unsupported_language: { status: 400, description: "`language` is neither `auto` nor a language Whisper knows." },
  body_too_large: {
    status: 413,
    description: "The body is larger than this endpoint takes; the message gives the limit. Send a large file as a multipart upload.",
  },
  invalid_url: { status: 400, description: "The URL is not an absolute http(s) URL, carries credentials, or (webhooks in production) is not https." },
  unauthorized: { status: 401, description: "No `Authorization: Bearer …` header, or the key or token in it is not valid." },
  forbidden: { status: 403, description: "The token is valid but not for this resource." },
  not_found: { status: 404, description: "No such route, or no transcription with this id for this API key." },
  idempotency_conflict: { status: 409, description: "This Idempotency-Key was used before with a different body." },
  idempotency_in_progress: { status: 409, description: "A request with this Idempotency-Key is still being handled; retry shortly." },
  job_finished: { status: 409, description: "The job has already ended (completed, failed or canceled)." },
  upload_incomplete: { status: 409, description: "The upload cannot be completed yet: parts are missing (the message lists them)." },
  model_not_found: { status: 400, description: "OpenAI-compatible routes: the `model` is not one this deployment serves (OPENAI_MODELS)." },
  upload_completed: { status: 409, description: "The upload is complete: its parts can no longer change." },
  upload_not_ready: { status: 409, description: "The upload is still receiving parts: complete it before a job reads it." },
  upload_gone: { status: 410, description: "The upload expired (UPLOAD_TTL_HOURS after it was made, unless a job still reads it) or was deleted." },
  not_ready: { status: 409, description: "The transcript is not ready yet; poll the job, or ask with `partial=true`." },
  not_plannable: { status: 409, description: "Machines only: the job is not waiting for this plan." },
  invalid_plan: { status: 400, description: "Machines only: the plan does not cover the recording in order." },
  range_closed: { status: 409, description: "Machines only: the range takes no more segments." },
  range_conflict: { status: 409, description: "Machines only: the range cannot move to the state asked for." },
  stale_attempt: { status: 409, description: "Machines only: the lease this token stands for has passed to another attempt." },
  rate_limited: { status: 429, description: "This API key sent more requests than its rate allows; retry after `Retry-After` seconds." },
  too_much_audio: {
    status: 429,
    description:
      "This API key has as many hours of planned audio unfinished as it may (MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY); retry after `Retry-After` seconds, or when a job finishes.",
  },
  too_much_stored: {
    status: 429,
    description: "This API key's live uploads would exceed MAX_UPLOAD_GB_PER_KEY; delete uploads you no longer need, or wait for them to expire.",
  },
  too_many_jobs: {
    status: 429,
    description: "This API key has as many unfinished jobs as it may (MAX_ACTIVE_JOBS_PER_KEY); retry after `Retry-After` seconds, or when one finishes.",
  },
  range_not_satisfiable: { status: 416, description: "The Range asked for lies outside the file." },
  url_not_allowed: { status: 422, description: "The URL (or a redirect from it) points to a private, loopback or otherwise non-public address." },
  media_unreachable: { status: 422, description: "The media server could not be reached or answered with an error." },
  range_not_supported: { status: 422, description: "The media server does not answer `Range: bytes=0-0` with 206; long files need range reads." },
  empty_media: { status: 422, description: "The file is empty." },
  not_media: { status: 422, description: "The file is served as something other than audio or video." },
  service_misconfigured: { status: 503, description: "A secret this deployment needs is not set; the operator must add it." },
  internal_error: { status: 500, description: "The server failed; retrying is safe." },
} as const satisfies Record<string, { status: number; description: string }>;
export type ApiErrorCode = keyof typeof API_ERROR_CODES;

export function isApiErrorCode(code: string): code is ApiErrorCode {
  return Object.hasOwn(API_ERROR_CODES, code);
}

/** `error.code` of a failed job (the job's status is `failed`). */
export const JOB_ERROR_CODES = {
  media_unreachable: "The media could not be read while transcribing.",
  media_gone: "The file is gone from its server (HTTP 410): an upload deleted, or expired, while the job read it.",
  range_not_supported: "The media server stopped answering range reads.",
  empty_media: "The file holds no audio.",
  not_media: "The file is not audio or video a decoder can read.",
  decode_failed: "The decoder failed on the file's audio.",
  media_too_long: "The recording is longer than this deployment transcribes (MAX_AUDIO_SEC), or its header claims more audio than its size can hold.",
  media_changed: "The file changed (size, ETag or Last-Modified) after the job planned it; submit it again.",
  url_not_allowed: "A redirect led to a non-public address.",
  origin_failed: "The media server kept failing after retries.",
  ffmpeg_missing: "A machine lacks its media tools (an operator problem).",
  invalid_range: "A machine was handed a range outside the recording (an operator problem).",
  task_timeout: "Machines worked on one part of the recording far longer than its audio allows (a file that decodes endlessly), three times in a row.",
  machine_lost: "Machines stopped reporting while working on this job, three times in a row.",
  machine_error: "A machine failed on this job three times in a row.",
  machine_shutdown: "Machines shut down while working on this job, three times in a row.",
} as const satisfies Record<string, string>;
export type JobErrorCode = keyof typeof JOB_ERROR_CODES;
