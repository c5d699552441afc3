import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiErrorBody } from "../shared/api.ts";
import type { ApiErrorCode } from "../shared/error-codes.ts";

/**
 * The one error type of the edge. Handlers and helpers throw it; `errorResponse`
 * alone turns anything thrown into an HTTP answer.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ApiErrorCode,
    message: string,
    readonly param?: string,
    /** Seconds for a Retry-After header (429 answers). */
    readonly retryAfterSec?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }

  toJSON(): Failure {
    return { status: this.status, code: this.code, message: this.message, ...(this.param ? { param: this.param } : {}) };
  }
}

/** An ApiError as plain data, for crossing the RPC boundary to and from Durable Objects. */
export interface Failure {
  status: ContentfulStatusCode;
  code: ApiErrorCode;
  message: string;
  param?: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: Failure };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(status: ContentfulStatusCode, code: ApiErrorCode, message: string): Result<T> {
  return { ok: false, error: { status, code, message } };
}

export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  const { status, code, message, param } = result.error;
  throw new ApiError(status, code, message, param);
}

export function errorBody(code: ApiErrorCode, message: string, param?: string): ApiErrorBody {
  return { error: { code, message, ...(param ? { param } : {}) } };
}

export function errorResponse(error: unknown): Response {
  if (error instanceof ApiError) {
    const headers = error.retryAfterSec === undefined ? undefined : { "retry-after": String(error.retryAfterSec) };
    return Response.json(errorBody(error.code, error.message, error.param), { status: error.status, ...(headers ? { headers } : {}) });
  }
  // Unknown failures are logged with their stack for us and answered blandly,
  // so internals (and any secret in a message) never reach the client.
  console.error("unhandled error", error);
  return Response.json(errorBody("internal_error", "The server failed to handle this request; try again."), { status: 500 });
}
