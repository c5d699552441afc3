import type { z } from "zod";
import { isApiErrorCode } from "../shared/error-codes.ts";
import { ApiError } from "./errors.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a JSON body of at most MAX_BODY_BYTES, counting what actually arrives
 * (Content-Length can be absent or wrong). The Content-Type is not insisted
 * upon: `curl -d` sends form encoding by default and the intent is clear.
 */
export async function readJson(request: Request, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const reader = request.body?.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge(maxBytes);
      }
      parts.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") throw new ApiError(400, "invalid_json", "the request body is empty; send a JSON object");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, "invalid_json", `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, "body_too_large", `the request body is larger than ${maxBytes / 1024} KB`);
}

/** Parses with a zod schema; the first problem becomes a 400 naming its field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const field = [...issue.path, issue.keys[0]].join(".");
    throw new ApiError(400, "unknown_field", `unknown field "${field}"`, field);
  }
  const field = issue.path.join(".");
  const named: unknown = issue.code === "custom" ? issue.params?.error_code : undefined;
  const code = typeof named === "string" && isApiErrorCode(named) ? named : "invalid_request";
  const message = field ? `${field}: ${issue.message}` : issue.message;
  throw new ApiError(400, code, message, field || undefined);
}
