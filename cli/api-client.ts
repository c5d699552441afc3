import type { Readable } from "node:stream";
import { request as undiciRequest } from "undici";
import type { z } from "zod";
import { ApiErrorBody, CreatedTranscription, type SpeakerCounts, TranscriptionJob, TranscriptJson } from "../shared/api.ts";
import type { TranscriptFormat } from "../shared/formats/render.ts";
import { parseRetryAfterMs } from "../shared/retry.ts";
import { type CreateMultipartUploadRequest, Upload } from "../shared/uploads.ts";
import { ApiErrorAnswer, ApiUnreachable, CodedError, Interrupted } from "./cli-errors.ts";

/** A stuck API should fail the command, not hang it; a 24-hour transcript downloads well within this. */
const REQUEST_TIMEOUT_MS = 60_000;

/** The public API v1, as the CLI uses it. Every JSON answer is checked against shared/api.ts. */
export class ApiClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly key: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
  }

  async create(
    body: ({ audio_url: string } | { upload_id: string }) & { language?: string; diarize?: boolean } & SpeakerCounts,
  ): Promise<CreatedTranscription> {
    return this.json("POST", "/v1/transcriptions", CreatedTranscription, body);
  }

  async createUpload(body: z.input<typeof CreateMultipartUploadRequest>): Promise<Upload> {
    return this.json("POST", "/v1/uploads", Upload, body);
  }

  async getUpload(id: string): Promise<Upload> {
    return this.json("GET", `/v1/uploads/${encodeURIComponent(id)}`, Upload);
  }

  async completeUpload(id: string): Promise<Upload> {
    return this.json("POST", `/v1/uploads/${encodeURIComponent(id)}/complete`, Upload);
  }

  /**
   * PUT one part of a multipart upload from the caller's buffer. Through
   * undici's request rather than fetch: fetch copies the body it is given, and
   * the copies of parts in flight pile up until the next garbage collection
   * (a 200 MB upload grew memory by over 100 MB). Sent a slice at a time,
   * so that `onSent` sees the bytes go and a progress line can move within a part.
   */
  async putPart(
    id: string,
    partNumber: number,
    bytes: Uint8Array,
    opts: { signal?: AbortSignal | undefined; onSent?: (bytes: number) => void },
  ): Promise<void> {
    const method = "PUT";
    const path = `/v1/uploads/${encodeURIComponent(id)}/parts/${partNumber}`;
    let response: Awaited<ReturnType<typeof undiciRequest>>;
    try {
      response = await undiciRequest(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.key}`,
          accept: "application/json",
          "content-type": "application/octet-stream",
          "content-length": String(bytes.byteLength),
        },
        // undici documents (async) iterable bodies; its typings omit them.
        body: slices(bytes, opts.onSent) as unknown as Readable,
        signal: opts.signal,
        // Both timers restart whenever the socket takes more bytes: they catch a stalled part, not a slow link.
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      });
    } catch (error) {
      if (opts.signal?.aborted) throw new Interrupted("interrupted");
      throw new ApiUnreachable(this.baseUrl, reasonOf(error));
    }
    const text = await response.body.text().catch(() => "");
    if (response.statusCode >= 200 && response.statusCode < 300) return;
    const retryAfter = response.headers["retry-after"];
    throw answerError(method, path, response.statusCode, "", text, typeof retryAfter === "string" ? retryAfter : null);
  }

  async get(id: string): Promise<TranscriptionJob> {
    return this.json("GET", `/v1/transcriptions/${encodeURIComponent(id)}`, TranscriptionJob);
  }

  async cancel(id: string): Promise<TranscriptionJob> {
    return this.json("POST", `/v1/transcriptions/${encodeURIComponent(id)}/cancel`, TranscriptionJob);
  }

  async transcript(id: string, format: TranscriptFormat): Promise<string> {
    const response = await this.request("GET", `/v1/transcriptions/${encodeURIComponent(id)}/transcript?format=${format}`);
    try {
      return await response.text();
    } catch (error) {
      throw new ApiUnreachable(this.baseUrl, `the transcript download broke off: ${reasonOf(error)}`);
    }
  }

  /** The transcript with its segments' scores; `partial` also before completion (what is merged so far). */
  async transcriptJson(id: string, partial: boolean): Promise<TranscriptJson> {
    return this.json("GET", `/v1/transcriptions/${encodeURIComponent(id)}/transcript?format=verbose_json${partial ? "&partial=true" : ""}`, TranscriptJson);
  }

  /**
   * The job's live events (server-sent), after `lastEventId`. Without a
   * timeout: the stream stays open for as long as the job runs, kept alive by
   * the server's comments (shared/live-stream.ts notices one gone silent).
   */
  async events(id: string, lastEventId: string | null, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const path = `/v1/transcriptions/${encodeURIComponent(id)}/events`;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        headers: {
          authorization: `Bearer ${this.key}`,
          accept: "text/event-stream",
          ...(lastEventId === null ? {} : { "last-event-id": lastEventId }),
        },
        signal,
      });
    } catch (error) {
      throw new ApiUnreachable(this.baseUrl, reasonOf(error));
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      throw answerError("GET", path, response.status, response.statusText, text, response.headers.get("retry-after"));
    }
    if (!response.body || !(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      await response.body?.cancel().catch(() => undefined);
      throw new NoEventStream(`GET ${path} answered ${response.status} without an event stream`);
    }
    return response.body;
  }

  private async json<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    const response = await this.request(method, path, body);
    const parsed = schema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) {
      throw new CodedError(
        "unexpected_response",
        `${method} ${path} answered ${response.status} with a body this CLI does not understand`,
        "check that --api points at a longscribe API of the same version",
      );
    }
    return parsed.data;
  }

  /** Answers only 2xx; anything else becomes the API's own error code and message. */
  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.key}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new ApiUnreachable(this.baseUrl, reasonOf(error));
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => "");
    throw answerError(method, path, response.status, response.statusText, text, response.headers.get("retry-after"));
  }
}

/** The API answered, but not with an event stream: an older version, or something in between. */
export class NoEventStream extends Error {
  override name = "NoEventStream";
}

function answerError(method: string, path: string, status: number, statusText: string, text: string, retryAfter: string | null): ApiErrorAnswer {
  const retryAfterMs = parseRetryAfterMs(retryAfter, Date.now());
  const parsed = ApiErrorBody.safeParse(safeJson(text));
  if (parsed.success) return new ApiErrorAnswer(status, parsed.data.error.code, parsed.data.error.message, undefined, retryAfterMs);
  return new ApiErrorAnswer(
    status,
    `http_${status}`,
    `${method} ${path} answered ${status}${statusText ? ` ${statusText}` : ""} without an API error body`,
    "check that --api points at a longscribe API",
    retryAfterMs,
  );
}

/** Small enough that progress moves smoothly, large enough to cost nothing. */
const SLICE_BYTES = 256 * 1024;

async function* slices(bytes: Uint8Array, onSent?: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += SLICE_BYTES) {
    const slice = bytes.subarray(at, at + SLICE_BYTES);
    yield slice;
    // Resumed once the socket has taken the slice.
    onSent?.(slice.byteLength);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** fetch hides the socket error (ECONNREFUSED, ENOTFOUND…) in `cause`; that is the useful part. */
function reasonOf(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const code = (error as { code?: unknown } | null)?.code;
  // undici's own errors carry the code themselves.
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return `no progress for ${REQUEST_TIMEOUT_MS / 1000} s`;
  if (typeof code === "string" && !code.startsWith("UND_ERR")) return code;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}
