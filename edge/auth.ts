import { createMiddleware } from "hono/factory";
import { readConfig } from "./config.ts";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./app-env.ts";
import { keyIdOf } from "./ids.ts";

/**
 * Bearer API keys from the API_KEYS secret. Keys are compared as SHA-256
 * digests with a constant-time compare, and every configured key is checked,
 * so timing tells nothing about which key or prefix matched. Jobs are owned by
 * the digest (the key id), so no raw key is ever stored.
 */
export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const config = readConfig(c.env);
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    throw new ApiError(401, "unauthorized", "Missing API key: send `Authorization: Bearer <key>`.");
  }
  const presented = await digest(match[1]);
  let found = false;
  for (const key of config.apiKeys) {
    const equal = crypto.subtle.timingSafeEqual(presented, await digest(key));
    found = found || equal;
  }
  if (!found) throw new ApiError(401, "unauthorized", "Invalid API key.");
  c.set("keyId", await keyIdOf(match[1]));
  await next();
});

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}
