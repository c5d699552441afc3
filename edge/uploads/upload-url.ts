import { openToken, signToken, type TokenKind } from "../tasks/signed-token.ts";

/**
 * Signed URLs at which machines (and the uploader, for an hour) read an upload
 * through the Worker: `…/v1/uploads/{id}/content?token=ut1.<id, expiry>.<HMAC>`,
 * under a key derived from the edge-only secret. An upload id alone reads
 * nothing; a URL that leaks from a machine's logs stops working within the hour.
 */
const UPLOAD_URL: TokenKind = { version: "ut1", purpose: "longscribe upload url v1" };

/** Long enough for one task's reads (a range task reads for seconds to minutes); a task that outlives it fails retryably and its next attempt gets a new URL. */
export const UPLOAD_URL_TTL_MS = 3600_000;

export async function signedUploadUrl(edgeSecret: string, base: string, uploadId: string, now = Date.now()): Promise<string> {
  const token = await signToken(edgeSecret, UPLOAD_URL, [uploadId, now + UPLOAD_URL_TTL_MS]);
  return `${base}/v1/uploads/${uploadId}/content?token=${token}`;
}

/** Whether `token` lets its bearer read upload `uploadId` now. */
export async function uploadTokenValid(edgeSecret: string, uploadId: string, token: string, now = Date.now()): Promise<"ok" | "expired" | "invalid"> {
  const fields = await openToken(edgeSecret, UPLOAD_URL, token);
  if (fields?.length !== 2 || fields[0] !== uploadId || typeof fields[1] !== "number") return "invalid";
  return now <= fields[1] ? "ok" : "expired";
}
