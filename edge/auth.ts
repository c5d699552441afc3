import { createMiddleware } from "hono/factory";
import { readConfig } from "./config.ts";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./app-env.ts";
import { keyIdOf } from "../shared/ids.ts";

/** The period of wrangler.toml's API_RATE_LIMIT. */
const RATE_PERIOD_SEC = 10;

/**
 * Bearer API keys from the API_KEYS secret. Keys are compared as SHA-256
 * digests with a constant-time compare, and every configured key is checked,
 * so timing tells nothing about which key or prefix matched. Jobs are owned by
 * the digest (the key id), so no raw key is ever stored.
 */
export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const config = readConfig(c.env);
  const key = bearerToken(c.req.header("authorization"), "Missing API key: send `Authorization: Bearer <key>`.");
  let found = false;
  for (const known of config.apiKeys) {
    const equal = await sameSecret(key, known);
    found = found || equal;
  }
  if (!found) throw new ApiError(401, "unauthorized", "Invalid API key.");
  const keyId = await keyIdOf(key);
  // Per key, so one tenant's polling storm cannot slow the others; approximate and per
  // location, as the platform's limiter is. Not bound locally (one user, and the load tests).
  if (c.env.API_RATE_LIMIT && !(await c.env.API_RATE_LIMIT.limit({ key: keyId })).success) {
    throw new ApiError(
      429,
      "rate_limited",
      `too many requests for this API key (the limit is per ${RATE_PERIOD_SEC} s); slow down and retry after Retry-After`,
      undefined,
      RATE_PERIOD_SEC,
    );
  }
  c.set("keyId", keyId);
  await next();
});

/** The token of an `Authorization: Bearer …` header, or a 401 saying what to send. */
export function bearerToken(header: string | undefined, missing: string): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) throw new ApiError(401, "unauthorized", missing);
  return match[1];
}

/** Compares secrets as SHA-256 digests in constant time, so timing tells nothing of a prefix. */
export async function sameSecret(presented: string, expected: string): Promise<boolean> {
  return crypto.subtle.timingSafeEqual(await digest(presented), await digest(expected));
}

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}
