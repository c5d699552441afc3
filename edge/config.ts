import { ApiError } from "./errors.ts";

/** The edge's whole configuration, read and checked in this one place. */
export interface Config {
  apiKeys: readonly string[];
  webhookSigningKey: string;
  /** Local mode and tests only: lets media and webhook URLs point at 127.0.0.1/localhost. */
  allowLoopbackUrls: boolean;
  machinePricePerHourUsd: number;
  /** Origin used in status_url/transcript_url; the request's own origin when unset. */
  publicBaseUrl: string | null;
  /** The machines' shared secret; null when no machine may connect (machine routes then answer 503). */
  machineToken: string | null;
  /** Seconds a task lease lasts without a heartbeat. */
  leaseSec: number;
}

const cache = new WeakMap<object, Config>();

export function readConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const config = parse(env);
  cache.set(env, config);
  return config;
}

function parse(env: Env): Config {
  const apiKeys = (env.API_KEYS ?? "").split(",").map((k) => k.trim()).filter((k) => k.length > 0);
  if (apiKeys.length === 0) throw misconfigured("API_KEYS is not set: add keys with `wrangler secret put API_KEYS` (or .dev.vars locally)");
  if (apiKeys.some((k) => k.length < 16)) throw misconfigured("every key in API_KEYS must be at least 16 characters");
  const webhookSigningKey = env.WEBHOOK_SIGNING_KEY ?? "";
  if (webhookSigningKey.length < 32) throw misconfigured("WEBHOOK_SIGNING_KEY must be set to at least 32 random characters");
  const price = Number(env.MACHINE_PRICE_PER_HOUR_USD ?? "2.50");
  if (!Number.isFinite(price) || price < 0) throw misconfigured("MACHINE_PRICE_PER_HOUR_USD must be a non-negative number");
  const base = env.PUBLIC_BASE_URL?.trim() ?? "";
  const machineToken = env.MACHINE_TOKEN?.trim() ?? "";
  if (machineToken.length > 0 && machineToken.length < 32) throw misconfigured("MACHINE_TOKEN must be at least 32 random characters");
  const leaseSec = Number(env.LEASE_SEC ?? "60");
  if (!Number.isFinite(leaseSec) || leaseSec < 5 || leaseSec > 3600) throw misconfigured("LEASE_SEC must be a number of seconds between 5 and 3600");
  return {
    apiKeys,
    webhookSigningKey,
    allowLoopbackUrls: env.ALLOW_LOOPBACK_URLS === "true",
    machinePricePerHourUsd: price,
    publicBaseUrl: base.length > 0 ? base.replace(/\/+$/, "") : null,
    machineToken: machineToken.length > 0 ? machineToken : null,
    leaseSec,
  };
}

function misconfigured(message: string): ApiError {
  // The message names the setting, never its value.
  return new ApiError(503, "service_misconfigured", message);
}
