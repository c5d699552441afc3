import { createRoute, z, type RouteConfig } from "@hono/zod-openapi";
import { CreatedTranscription, CreateTranscriptionRequest, TranscriptionJob, TranscriptionList, TranscriptJson, WebhookPayload } from "../../shared/api.ts";
import { API_ERROR_CODES, JOB_ERROR_CODES, type ApiErrorCode } from "../../shared/error-codes.ts";
import { TRANSCRIPT_FORMATS } from "../../shared/formats/render.ts";
import {
  ClaimRequest,
  ClaimResponse,
  CompleteRequest,
  ExitNotice,
  FailRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  SegmentsPost,
  SettleRequest,
  SettleResponse,
} from "../../shared/protocol.ts";
import { OPENAI_RESPONSE_FORMATS } from "../../shared/formats/openai.ts";
import { CreateMultipartUploadRequest, DeletedUpload, Upload, UploadPartReceived } from "../../shared/uploads.ts";
import * as example from "./examples.ts";

/**
 * Every route the Worker serves, described with the zod schemas the handlers
 * validate with. app.ts mounts each handler through these, so a route cannot be
 * served without being documented.
 */

const codeList = (codes: Record<string, string>) =>
  Object.entries(codes)
    .map(([code, what]) => `- \`${code}\`: ${what}`)
    .join("\n");

const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(API_ERROR_CODES) as [ApiErrorCode, ...ApiErrorCode[]]).describe("Stable, machine-readable; safe to branch on."),
      message: z.string().describe("For people: says what was wrong and what to do."),
      param: z.string().optional().describe("The request field or parameter at fault, when there is one."),
    }),
  })
  .meta({
    id: "Error",
    description: `Every 4xx and 5xx answer has this body. Codes may be added in later versions: treat one you do not know by its HTTP status. Codes:\n\n${codeList(Object.fromEntries(Object.entries(API_ERROR_CODES).map(([c, v]) => [c, `HTTP ${v.status}. ${v.description}`])))}`,
  });

const Job = TranscriptionJob.meta({
  id: "Transcription",
  description: `A transcription job. \`status\` moves queued → planning → running → completed, or ends failed or canceled. A failed job's \`error.code\` is one of:\n\n${codeList(JOB_ERROR_CODES)}`,
  example: example.completedJob,
});
const Created = CreatedTranscription.meta({ id: "CreatedTranscription", example: example.created });
const Request = CreateTranscriptionRequest.meta({ id: "CreateTranscriptionRequest", example: example.createRequest });
const List = TranscriptionList.meta({ id: "TranscriptionList", example: example.list });
const Transcript = TranscriptJson.meta({ id: "Transcript", example: example.transcript });
const Webhook = WebhookPayload.meta({ id: "WebhookEvent", example: example.webhook });

/** The error answers a route can give, grouped by status, one named example per code. */
function errors(...codes: ApiErrorCode[]): RouteConfig["responses"] {
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of [...codes, "internal_error" as const])
    byStatus.set(API_ERROR_CODES[code].status, [...(byStatus.get(API_ERROR_CODES[code].status) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      {
        description: list.map((c) => `\`${c}\``).join(", "),
        content: {
          "application/json": {
            schema: ErrorBody,
            examples: Object.fromEntries(list.map((c) => [c, { value: { error: { code: c, message: API_ERROR_CODES[c].description } } }])),
          },
        },
      },
    ]),
  );
}

const json = <S extends z.ZodType>(schema: S, description: string) => ({ description, content: { "application/json": { schema } } });
const apiKey = [{ ApiKey: [] }];
const IdParam = z.object({ id: z.string().min(1).meta({ description: "The transcription id (`tr_…`).", example: example.created.id }) });
const TaskParam = z.object({
  task_id: z
    .string()
    .min(1)
    .meta({ description: "The task id from the claim.", example: `${example.created.id}.r9` }),
});
const machineBody = <S extends z.ZodType>(schema: S, value: unknown) => ({
  body: { required: true, content: { "application/json": { schema, example: value } } },
});
const ok = z.object({ ok: z.literal(true) });
const Health = z.object({ ok: z.literal(true), uploads: z.boolean().describe("POST /v1/uploads is available (the deployment has an upload bucket).") });
const Binary = z.string().meta({ format: "binary" });
const OpenAiForm = z
  .object({
    file: Binary.describe("The recording (up to OPENAI_MAX_FILE_MB, 25 MB by default, as OpenAI's)."),
    model: z.string().meta({ description: "`whisper-1`, or another name in OPENAI_MODELS: all are this deployment's Whisper.", example: "whisper-1" }),
    language: z.string().optional().meta({ description: "Transcriptions: ISO 639-1 code of the speech; detected when absent.", example: "en" }),
    prompt: z.string().optional().meta({ description: "Text to condition on (Whisper's initial prompt): spellings, names, style." }),
    response_format: z.enum(OPENAI_RESPONSE_FORMATS).optional().meta({ description: "Default json." }),
    temperature: z.number().min(0).max(1).optional().meta({ description: "0 (default): the usual fallback schedule from 0; t > 0 starts it at t." }),
    "timestamp_granularities[]": z
      .array(z.enum(["word", "segment"]))
      .optional()
      .meta({ description: "verbose_json only: `word` adds words, `segment` (the default) segments." }),
  })
  .meta({ id: "OpenAiAudioRequest" });
const OpenAiAnswer = z
  .object({
    task: z.enum(["transcribe", "translate"]).optional(),
    language: z.string().optional().meta({ description: 'verbose_json: Whisper\'s name of the language, as OpenAI writes it ("english").' }),
    duration: z.number().optional(),
    text: z.string(),
    segments: z
      .array(
        z.object({
          id: z.number().int(),
          seek: z.number().int(),
          start: z.number(),
          end: z.number(),
          text: z.string(),
          tokens: z.array(z.number().int()),
          temperature: z.number(),
          avg_logprob: z.number(),
          compression_ratio: z.number(),
          no_speech_prob: z.number(),
        }),
      )
      .optional(),
    words: z.array(z.object({ word: z.string(), start: z.number(), end: z.number() })).optional(),
  })
  .meta({ id: "OpenAiAudioResponse", description: "json: `{ text }`; verbose_json: all fields, `words` when asked." });
const OpenAiErrorBody = z
  .object({ error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }) })
  .meta({ id: "OpenAiError", description: "OpenAI's error shape, on the OpenAI-compatible routes only." });

function openAiRoute(kind: "transcriptions" | "translations") {
  const oa = (description: string) => ({ description, content: { "application/json": { schema: OpenAiErrorBody } } });
  return createRoute({
    method: "post",
    path: `/v1/audio/${kind}`,
    tags: ["OpenAI-compatible"],
    summary:
      kind === "transcriptions"
        ? "Transcribe a file, answering when done (OpenAI-compatible)"
        : "Translate a file into English text, answering when done (OpenAI-compatible)",
    description:
      "OpenAI's route, for code written against it (the official SDKs work with `baseURL` set to this API). The file is stored as an upload and transcribed as a normal job (listed, with usage; its id in the `X-Longscribe-Transcription-Id` header); the answer comes when the job ends, so long recordings take as long as they take: raise the client's timeout (the openai SDK's default is 10 minutes). Errors have OpenAI's shape.",
    security: apiKey,
    request: { body: { required: true, content: { "multipart/form-data": { schema: OpenAiForm } } } },
    responses: {
      200: {
        description: "The transcript: JSON for json and verbose_json, plain text for text, srt and vtt.",
        content: { "application/json": { schema: OpenAiAnswer }, "text/plain": { schema: z.string() } },
      },
      400: oa("A missing file or model, an unknown model (`model_not_found`), a bad option, or a file that is not audio."),
      401: oa("No or an invalid API key."),
      413: oa("The file is larger than OPENAI_MAX_FILE_MB."),
      429: oa("The key's rate or quota."),
      500: oa("The transcription failed on the service's side; retrying is safe."),
    },
  });
}

const UploadId = z.object({ id: z.string().meta({ description: "The upload id (`up_…`).", example: example.upload.id }) });
const UploadObject = Upload.meta({ id: "Upload", example: example.upload });
const MultipartRequest = CreateMultipartUploadRequest.meta({
  id: "CreateMultipartUploadRequest",
  example: { multipart: true, size_bytes: 5_368_709_120, content_type: "audio/mpeg", filename: "all-hands.mp3" },
});

/**
 * What every operation carries, whoever adds it: an operationId, its key here
 * (code generators name their methods by it), and an explicit `security`, so
 * that a route declaring none is public by statement (`[]`), not by omission.
 * createRoute again, because its getRoutingPath is not copied by a spread.
 */
function operations<T extends Record<string, RouteConfig>>(routes: T): T {
  const described: Record<string, RouteConfig> = Object.fromEntries(
    Object.entries(routes).map(([key, route]) => [key, createRoute({ ...route, operationId: route.operationId ?? key, security: route.security ?? [] })]),
  );
  return described as T;
}

export const ROUTES = operations({
  health: createRoute({
    method: "get",
    path: "/healthz",
    tags: ["Service"],
    summary: "Liveness, and whether file uploads are on (local mode)",
    responses: { 200: { description: "The Worker answers.", content: { "application/json": { schema: Health, example: { ok: true, uploads: false } } } } },
  }),
  openapi: createRoute({
    method: "get",
    path: "/openapi.json",
    tags: ["Service"],
    summary: "This document (OpenAPI 3.1)",
    responses: { 200: json(z.record(z.string(), z.unknown()), "The OpenAPI document.") },
  }),
  docs: createRoute({
    method: "get",
    path: "/docs",
    tags: ["Service"],
    summary: "Interactive API reference",
    responses: { 200: { description: "An HTML page.", content: { "text/html": { schema: z.string() } } } },
  }),

  createTranscription: createRoute({
    method: "post",
    path: "/v1/transcriptions",
    tags: ["Transcriptions"],
    summary: "Start a transcription",
    description:
      "Checks the URL (it must be public and answer range requests), creates the job and answers at once. Poll `status_url` or wait for the webhook. The same `Idempotency-Key` with the same body within 24 h returns the same job with 200.",
    security: apiKey,
    request: {
      headers: z.object({
        "idempotency-key": z.string().max(255).optional().meta({ description: "Makes retrying this request safe.", example: "order-8841" }),
      }),
      body: { required: true, content: { "application/json": { schema: Request } } },
    },
    responses: {
      202: json(Created, "Accepted: the job exists and will start when a machine is free."),
      200: json(Created, "The job an earlier request with this Idempotency-Key created."),
      ...errors(
        "invalid_request",
        "invalid_json",
        "unknown_field",
        "unsupported_language",
        "body_too_large",
        "invalid_url",
        "unauthorized",
        "rate_limited",
        "idempotency_conflict",
        "idempotency_in_progress",
        "too_many_jobs",
        "too_much_audio",
        "url_not_allowed",
        "media_unreachable",
        "range_not_supported",
        "empty_media",
        "not_media",
        "not_found",
        "upload_not_ready",
        "upload_gone",
        "service_misconfigured",
      ),
    },
  }),
  listTranscriptions: createRoute({
    method: "get",
    path: "/v1/transcriptions",
    tags: ["Transcriptions"],
    summary: "List your transcriptions, newest first",
    security: apiKey,
    request: {
      query: z.object({
        limit: z.string().regex(/^\d+$/).optional().meta({ description: "1 to 100 (default 20).", example: "20" }),
        cursor: z.string().optional().meta({ description: "`next_cursor` of the previous page." }),
      }),
    },
    responses: { 200: json(List, "A page of jobs."), ...errors("invalid_request", "unauthorized", "rate_limited") },
  }),
  getTranscription: createRoute({
    method: "get",
    path: "/v1/transcriptions/{id}",
    tags: ["Transcriptions"],
    summary: "Status and progress of a job",
    security: apiKey,
    request: { params: IdParam },
    responses: {
      200: {
        description: "The job.",
        content: {
          "application/json": {
            schema: Job,
            examples: { running: { value: example.runningJob }, completed: { value: example.completedJob }, failed: { value: example.failedJob } },
          },
        },
      },
      ...errors("unauthorized", "rate_limited", "not_found"),
    },
  }),
  deleteTranscription: createRoute({
    method: "delete",
    path: "/v1/transcriptions/{id}",
    tags: ["Transcriptions"],
    summary: "Erase a job and its transcript",
    description: "Its storage is erased entirely and later reads answer 404; machines still working on it stop at their next heartbeat.",
    security: apiKey,
    request: { params: IdParam },
    responses: { 204: { description: "Erased." }, ...errors("unauthorized", "rate_limited", "not_found") },
  }),
  cancelTranscription: createRoute({
    method: "post",
    path: "/v1/transcriptions/{id}/cancel",
    tags: ["Transcriptions"],
    summary: "Cancel a job",
    description: "Machines working on it stop within a heartbeat. What was merged so far stays readable with `partial=true`.",
    security: apiKey,
    request: { params: IdParam },
    responses: { 200: json(Job, "The canceled job."), ...errors("unauthorized", "rate_limited", "not_found", "job_finished") },
  }),
  getTranscriptionEvents: createRoute({
    method: "get",
    path: "/v1/transcriptions/{id}/events",
    tags: ["Transcriptions"],
    summary: "Live events of a job (server-sent events)",
    description: [
      "`text/event-stream`, open until the job ends. Events (`data` is JSON):",
      "- `status` `{ status, error? }`: on connect and at each change; the stream ends after `completed`, `failed` or `canceled`.",
      "- `progress`: the job's progress block, on connect and as segments arrive.",
      "- `segments` `{ segments: [...] }`: segments newly merged, in time order, as in `verbose_json`; its `id` is the merge's sequence number (a large merge comes as several events, the id on the last).",
      "- `replace` `{ range_index, start_sec, end_sec }` with an `id`: segments shown before in that span were dropped (the range is being redone); the redo's segments follow as `segments`.",
      "- a comment line every 15 s, so proxies keep the stream open.",
      "A new client first gets the transcript so far as `segments` events (in pages; the last one carries the id it stands at). Reconnect with `Last-Event-ID` (or `?last_event_id=`) to get exactly what was merged or replaced after it: nothing twice, nothing missed.",
    ].join("\n"),
    security: apiKey,
    request: {
      params: IdParam,
      query: z.object({
        last_event_id: z.string().regex(/^\d+$/).optional().meta({ description: "Resume after this event id (as the Last-Event-ID header)." }),
      }),
      headers: z.object({ "last-event-id": z.string().optional().meta({ description: "Resume after this event id; browsers send it when they reconnect." }) }),
    },
    responses: {
      200: {
        description: "The event stream.",
        content: {
          "text/event-stream": {
            schema: z.string(),
            example:
              'event: status\ndata: {"status":"running"}\n\nid: 7\nevent: segments\ndata: {"segments":[{"start_sec":0.52,"end_sec":2.84,"text":"Welcome back to the show.","language":"en","bcp47":"en","avg_logprob":-0.21,"no_speech_prob":0.01}]}\n\n',
          },
        },
      },
      ...errors("invalid_request", "unauthorized", "rate_limited", "not_found"),
    },
  }),
  getTranscript: createRoute({
    method: "get",
    path: "/v1/transcriptions/{id}/transcript",
    tags: ["Transcriptions"],
    summary: "Download the transcript",
    description:
      "Streams the transcript in the format asked for. Before the job completes it answers 409 `not_ready`, unless `partial=true`, which returns what is merged so far.",
    security: apiKey,
    request: {
      params: IdParam,
      query: z.object({
        format: z.enum(TRANSCRIPT_FORMATS).optional().meta({ description: "json (default), verbose_json (scores, words, usage), text, srt or vtt." }),
        partial: z.enum(["true", "false", "1", "0"]).optional().meta({ description: "Return what is merged so far of a job that has not completed." }),
      }),
    },
    responses: {
      200: {
        description: "The transcript; `Content-Disposition` names a file.",
        content: {
          "application/json": { schema: Transcript },
          "text/plain": { schema: z.string(), example: `${example.transcript.text}\n` },
          "application/x-subrip": { schema: z.string(), example: "1\n00:00:00,520 --> 00:00:02,840\nWelcome back to the show.\n\n" },
          "text/vtt": { schema: z.string(), example: "WEBVTT\n\n1\n00:00:00.520 --> 00:00:02.840\nWelcome back to the show.\n\n" },
        },
      },
      ...errors("invalid_request", "unauthorized", "rate_limited", "not_found", "not_ready"),
    },
  }),

  createUpload: createRoute({
    method: "post",
    path: "/v1/uploads",
    tags: ["Uploads"],
    summary: "Upload a file, whole or in parts",
    description:
      'For a recording without a public URL. **Whole:** the body is the file (its own Content-Type; `X-File-Name` optional), up to the platform\'s request body limit (`MAX_REQUEST_BODY_MB`: 100 MB on Cloudflare\'s Free and Pro plans, 200 MB Business, 500 MB Enterprise); beyond it `413 body_too_large`. **In parts** (any size up to `MAX_UPLOAD_GB`): send `application/json` `{"multipart": true, "size_bytes", "content_type", "filename"}`, then `PUT` each part, then `complete`. Either way, create a transcription with `upload_id`. Uploads belong to the key that made them, count against its `MAX_UPLOAD_GB_PER_KEY`, and are deleted `UPLOAD_TTL_HOURS` (72) after they were made unless a job still reads them.',
    security: apiKey,
    request: {
      headers: z.object({
        "x-file-name": z.string().max(255).optional().meta({ description: "Whole uploads: the file's name, kept for display.", example: "interview.m4a" }),
      }),
      body: { required: true, content: { "application/json": { schema: MultipartRequest }, "*/*": { schema: Binary } } },
    },
    responses: {
      201: json(UploadObject, "Stored (whole: status completed), or started (multipart: status uploading, with the part size)."),
      ...errors("invalid_request", "invalid_json", "unknown_field", "body_too_large", "unauthorized", "rate_limited", "too_much_stored"),
    },
  }),
  putUploadPart: createRoute({
    method: "put",
    path: "/v1/uploads/{id}/parts/{n}",
    tags: ["Uploads"],
    summary: "Send one part of a multipart upload",
    description:
      "The body is part `n` (1…`parts_total`): exactly `part_size_bytes`, except the last, which has the rest. Parts may come in any order and at once; sending a part again replaces it.",
    security: apiKey,
    request: {
      params: UploadId.extend({ n: z.string().regex(/^\d+$/).meta({ description: "The part number, from 1.", example: "1" }) }),
      body: { required: true, content: { "application/octet-stream": { schema: Binary } } },
    },
    responses: {
      200: json(UploadPartReceived.meta({ id: "UploadPart" }), "Stored."),
      ...errors("invalid_request", "unauthorized", "rate_limited", "not_found", "upload_completed", "upload_gone"),
    },
  }),
  getUpload: createRoute({
    method: "get",
    path: "/v1/uploads/{id}",
    tags: ["Uploads"],
    summary: "An upload and the parts received",
    description: "To resume a broken upload: send the parts not listed, then complete it.",
    security: apiKey,
    request: { params: UploadId },
    responses: { 200: json(UploadObject, "The upload."), ...errors("unauthorized", "rate_limited", "not_found", "upload_gone") },
  }),
  completeUpload: createRoute({
    method: "post",
    path: "/v1/uploads/{id}/complete",
    tags: ["Uploads"],
    summary: "Join the parts into one file",
    description: "Every part must be in; completing again answers the completed upload.",
    security: apiKey,
    request: { params: UploadId },
    responses: { 200: json(UploadObject, "Completed."), ...errors("unauthorized", "rate_limited", "not_found", "upload_incomplete", "upload_gone") },
  }),
  deleteUpload: createRoute({
    method: "delete",
    path: "/v1/uploads/{id}",
    tags: ["Uploads"],
    summary: "Delete an upload now",
    description: "A job still reading it fails with `media_gone`.",
    security: apiKey,
    request: { params: UploadId },
    responses: { 200: json(DeletedUpload.meta({ id: "DeletedUpload" }), "Deleted."), ...errors("unauthorized", "rate_limited", "not_found", "upload_gone") },
  }),
  readUploadContent: createRoute({
    method: "get",
    path: "/v1/uploads/{id}/content",
    tags: ["Uploads"],
    summary: "Read an uploaded file, with range requests (signed URL)",
    description:
      "The `content_url` of a completed upload, and the URLs machines are given, which carry their own token and expire within the hour; no API key.",
    request: {
      params: UploadId,
      query: z.object({ token: z.string().meta({ description: "The signature the URL was made with." }) }),
      headers: z.object({ range: z.string().optional().meta({ example: "bytes=0-0" }) }),
    },
    responses: {
      200: { description: "The whole file.", content: { "*/*": { schema: Binary } } },
      206: { description: "The range asked for (Content-Range says which).", content: { "*/*": { schema: Binary } } },
      ...errors("forbidden", "not_found", "upload_gone", "range_not_satisfiable"),
    },
  }),

  openaiTranscriptions: openAiRoute("transcriptions"),
  openaiTranslations: openAiRoute("translations"),

  claim: createRoute({
    method: "post",
    path: "/v1/machine/claim",
    tags: ["Machines (internal)"],
    summary: "A machine asks for work",
    security: [{ MachineToken: [] }],
    request: machineBody(ClaimRequest, { version: 1, machine_id: "m-7f3a", capacity: 1 }),
    responses: {
      200: { description: "Leased tasks.", content: { "application/json": { schema: ClaimResponse, example: example.claim } } },
      204: { description: "No work now." },
      ...errors("invalid_request", "invalid_json", "unknown_field", "body_too_large", "unauthorized", "service_misconfigured"),
    },
  }),
  exit: createRoute({
    method: "post",
    path: "/v1/machine/exit",
    tags: ["Machines (internal)"],
    summary: "A machine says it is exiting",
    description:
      "Sent by a machine that leaves because it has had no work for IDLE_EXIT_SEC (or is shutting down). The edge then ends it with its provider (a RunPod pod is terminated) at its next reconcile, rather than leaving a platform that restarts exited processes to bill for it.",
    security: [{ MachineToken: [] }],
    request: machineBody(ExitNotice, { version: 1, machine_id: "m-7f3a", reason: "idle" }),
    responses: {
      204: { description: "Noted; the machine may exit." },
      ...errors("invalid_request", "invalid_json", "unknown_field", "body_too_large", "unauthorized", "service_misconfigured"),
    },
  }),
  heartbeat: createRoute({
    method: "post",
    path: "/v1/machine/tasks/{task_id}/heartbeat",
    tags: ["Machines (internal)"],
    summary: "Extend a lease; learn whether to stop",
    security: [{ TaskToken: [] }],
    request: { params: TaskParam, ...machineBody(HeartbeatRequest, example.heartbeat) },
    responses: {
      200: {
        description: "Go on until lease_until, or stop and why.",
        content: { "application/json": { schema: HeartbeatResponse, example: example.heartbeatAnswer } },
      },
      ...errors("invalid_request", "invalid_json", "unknown_field", "body_too_large", "unauthorized", "forbidden", "not_found", "stale_attempt"),
    },
  }),
  segments: createRoute({
    method: "post",
    path: "/v1/machine/tasks/{task_id}/segments",
    tags: ["Machines (internal)"],
    summary: "Post transcribed segments (absolute times)",
    description: "Idempotent by (task, attempt, seq).",
    security: [{ TaskToken: [] }],
    request: { params: TaskParam, ...machineBody(SegmentsPost, example.segments) },
    responses: {
      200: json(z.object({ status: z.enum(["accepted", "duplicate"]) }), "Taken, or a retry of a post already taken."),
      ...errors(
        "invalid_request",
        "invalid_json",
        "unknown_field",
        "body_too_large",
        "unauthorized",
        "forbidden",
        "not_found",
        "stale_attempt",
        "range_closed",
        "job_finished",
      ),
    },
  }),
  complete: createRoute({
    method: "post",
    path: "/v1/machine/tasks/{task_id}/complete",
    tags: ["Machines (internal)"],
    summary: "Finish a task (a plan task sends its plan)",
    security: [{ TaskToken: [] }],
    request: { params: TaskParam, ...machineBody(CompleteRequest, example.complete) },
    responses: {
      200: json(ok, "Done."),
      ...errors(
        "invalid_request",
        "invalid_json",
        "unknown_field",
        "body_too_large",
        "unauthorized",
        "forbidden",
        "not_found",
        "stale_attempt",
        "invalid_plan",
        "not_plannable",
        "range_conflict",
        "job_finished",
      ),
    },
  }),
  fail: createRoute({
    method: "post",
    path: "/v1/machine/tasks/{task_id}/fail",
    tags: ["Machines (internal)"],
    summary: "Give a task back (retryable) or fail it",
    security: [{ TaskToken: [] }],
    request: { params: TaskParam, ...machineBody(FailRequest, example.fail) },
    responses: {
      200: json(ok, "Noted."),
      ...errors(
        "invalid_request",
        "invalid_json",
        "unknown_field",
        "body_too_large",
        "unauthorized",
        "forbidden",
        "not_found",
        "stale_attempt",
        "not_plannable",
        "range_conflict",
        "job_finished",
      ),
    },
  }),
  settleBoundaries: createRoute({
    method: "post",
    path: "/v1/machine/tasks/{task_id}/boundaries",
    tags: ["Machines (internal)"],
    summary: "Settle a range's unsettled edges",
    description:
      "A range task whose `settle` names edges proposes the quietest point near each; the first proposal for a boundary, from either of its two ranges, is kept. Answers the range's edges as settled: transcribe exactly between them.",
    security: [{ TaskToken: [] }],
    request: { params: TaskParam, ...machineBody(SettleRequest, { version: 1, attempt: 1, start_sec: 298.42, end_sec: 601.07 }) },
    responses: {
      200: json(SettleResponse, "The range's edges."),
      ...errors("invalid_request", "invalid_json", "unknown_field", "body_too_large", "unauthorized", "forbidden", "not_found", "stale_attempt"),
    },
  }),
} satisfies Record<string, RouteConfig>);

const signatureHeaders = z.object({
  "webhook-id": z
    .string()
    .meta({ description: "The event id; the same on every retry of one event, so receivers can drop repeats.", example: example.webhook.id }),
  "webhook-timestamp": z.string().meta({ description: "Unix seconds when this attempt was signed; reject ones far from now.", example: "1795442702" }),
  "webhook-signature": z.string().meta({
    description:
      "`v1,` + base64 HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{raw body}` with your key's `whsec_…` secret (the Standard Webhooks scheme; its libraries verify it).",
    example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  }),
});

/** Events POSTed to a job's webhook_url. */
export const WEBHOOKS: RouteConfig[] = (["completed", "failed", "canceled", "progress"] as const).map((type) => ({
  method: "post",
  path: `transcription.${type}`,
  summary: {
    completed: "The transcript is ready",
    failed: "The job failed; data.error says why",
    canceled: "The job was canceled",
    progress: "At most once a minute while running (opt in with webhook_events)",
  }[type],
  description: "Answer 2xx within 10 s. Anything else, or no answer, is retried with backoff for about 24 h; 410 stops retries at once.",
  operationId: `transcription${type[0]!.toUpperCase()}${type.slice(1)}`,
  // Receivers check the signature headers; no security scheme applies.
  security: [],
  request: { headers: signatureHeaders, body: { required: true, content: { "application/json": { schema: Webhook } } } },
  responses: { 200: { description: "Received (any 2xx)." }, 410: { description: "Gone: stop sending this job's events." } },
}));
