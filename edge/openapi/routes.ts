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
} from "../../shared/protocol.ts";
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
const Health = z.object({ ok: z.literal(true), uploads: z.boolean().describe("POST /v1/uploads is available (local mode only).") });
const Binary = z.string().meta({ format: "binary" });
const Upload = z
  .object({
    id: z.string(),
    url: z.string().describe("Pass it as audio_url. Readable without a key by whoever has it."),
    size_bytes: z.number().int(),
    content_type: z.string(),
  })
  .meta({
    id: "Upload",
    example: {
      id: "up_8x2kq4m9v7c3n1p5r6t0w2y4",
      url: "http://127.0.0.1:8787/v1/uploads/up_8x2kq4m9v7c3n1p5r6t0w2y4",
      size_bytes: 48_211_332,
      content_type: "audio/mpeg",
    },
  });

export const ROUTES = {
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
    tags: ["Local mode"],
    summary: "Upload a file to transcribe (local mode only)",
    description: "For the web page's file picker under `npm start`. The body is the file. Deployed APIs answer 404 and take an audio_url instead.",
    security: apiKey,
    request: {
      headers: z.object({
        "x-file-name": z.string().max(255).optional().meta({ description: "The file's name, kept for display.", example: "interview.m4a" }),
      }),
      body: { required: true, content: { "*/*": { schema: Binary } } },
    },
    responses: { 201: json(Upload, "Stored."), ...errors("invalid_request", "body_too_large", "unauthorized", "rate_limited", "not_found") },
  }),
  readUpload: createRoute({
    method: "get",
    path: "/v1/uploads/{id}",
    tags: ["Local mode"],
    summary: "Read an uploaded file, with range requests",
    request: {
      params: z.object({ id: z.string().meta({ description: "The upload id (`up_…`).", example: "up_8x2kq4m9v7c3n1p5r6t0w2y4" }) }),
      headers: z.object({ range: z.string().optional().meta({ example: "bytes=0-0" }) }),
    },
    responses: {
      200: { description: "The whole file.", content: { "*/*": { schema: Binary } } },
      206: { description: "The range asked for (Content-Range says which).", content: { "*/*": { schema: Binary } } },
      ...errors("not_found", "range_not_satisfiable"),
    },
  }),

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
} satisfies Record<string, RouteConfig>;

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
  request: { headers: signatureHeaders, body: { required: true, content: { "application/json": { schema: Webhook } } } },
  responses: { 200: { description: "Received (any 2xx)." }, 410: { description: "Gone: stop sending this job's events." } },
}));
