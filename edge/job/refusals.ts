import { fail, type Result } from "../errors.ts";

/** The job object's common refusals, as Results for the RPC boundary. */

export function notFound<T>(): Result<T> {
  return fail(404, "not_found", "no such transcription");
}

export function stale<T>(what: string, attempt: number, current?: number): Result<T> {
  const now = current === undefined ? "" : ` (current attempt is ${current})`;
  return fail(409, "stale_attempt", `attempt ${attempt} no longer holds ${what}${now}`);
}
