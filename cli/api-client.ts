import type { z } from "zod";
import { ApiErrorBody, CreatedTranscription, TranscriptionJob } from "../shared/api.ts";
import type { TranscriptFormat } from "../shared/formats/render.ts";
import { ApiUnreachable, CodedError } from "./cli-errors.ts";

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

  async create(body: { audio_url: string; language?: string }): Promise<CreatedTranscription> {
    return this.json("POST", "/v1/transcriptions", CreatedTranscription, body);
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
    const parsed = ApiErrorBody.safeParse(safeJson(text));
    if (parsed.success) throw new CodedError(parsed.data.error.code, parsed.data.error.message);
    throw new CodedError(
      `http_${response.status}`,
      `${method} ${path} answered ${response.status} ${response.statusText} without an API error body`,
      "check that --api points at a longscribe API",
    );
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
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}
