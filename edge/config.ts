import { z } from "zod";
import { ApiError } from "./errors.ts";
import { FlyGuest } from "./machines/fly-client.ts";
import type { MachineSpec } from "./machines/fly-provider.ts";

/** Machines on demand through the Fly Machines API (Fly.io, or the local supervisor). */
export interface FleetConfig {
  apiUrl: string;
  app: string;
  token: string;
  spec: MachineSpec;
  maxMachines: number;
  audioSecPerMachine: number;
  startGraceSec: number;
}

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
  /** Null with MACHINE_PROVIDER "none": machines are started by hand. */
  fleet: FleetConfig | null;
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
  const publicBaseUrl = base.length > 0 ? base.replace(/\/+$/, "") : null;
  const machineToken = env.MACHINE_TOKEN?.trim() ?? "";
  if (machineToken.length > 0 && machineToken.length < 32) throw misconfigured("MACHINE_TOKEN must be at least 32 random characters");
  const leaseSec = Number(env.LEASE_SEC ?? "60");
  if (!Number.isFinite(leaseSec) || leaseSec < 5 || leaseSec > 3600) throw misconfigured("LEASE_SEC must be a number of seconds between 5 and 3600");
  return {
    apiKeys,
    webhookSigningKey,
    allowLoopbackUrls: env.ALLOW_LOOPBACK_URLS === "true",
    machinePricePerHourUsd: price,
    publicBaseUrl,
    machineToken: machineToken.length > 0 ? machineToken : null,
    leaseSec,
    fleet: parseFleet(env, publicBaseUrl, machineToken.length > 0),
  };
}

function parseFleet(env: Env, publicBaseUrl: string | null, hasMachineToken: boolean): FleetConfig | null {
  const kind = env.MACHINE_PROVIDER?.trim() || "none";
  if (kind === "none") return null;
  if (kind !== "fly") throw misconfigured('MACHINE_PROVIDER must be "none" or "fly"');
  const token = env.FLY_API_TOKEN?.trim() ?? "";
  if (token.length === 0) throw misconfigured("FLY_API_TOKEN is not set: `wrangler secret put FLY_API_TOKEN` (or .dev.vars locally)");
  if (!hasMachineToken) throw misconfigured("MACHINE_TOKEN must be set when MACHINE_PROVIDER is fly: machines need it to claim work");
  if (!publicBaseUrl) throw misconfigured("PUBLIC_BASE_URL must be set when MACHINE_PROVIDER is fly: machines are told it as EDGE_URL");
  const guest = json(env.MACHINE_GUEST, FlyGuest, "MACHINE_GUEST");
  const extraEnv = json(env.MACHINE_ENV || "{}", z.record(z.string(), z.string()), "MACHINE_ENV");
  return {
    apiUrl: (env.FLY_API_URL || "https://api.machines.dev").replace(/\/+$/, ""),
    app: nonEmpty(env.FLY_APP, "FLY_APP"),
    token,
    spec: {
      image: nonEmpty(env.MACHINE_IMAGE, "MACHINE_IMAGE"),
      guest,
      region: env.MACHINE_REGION?.trim() || null,
      env: { ...extraEnv, EDGE_URL: publicBaseUrl },
    },
    maxMachines: bounded(env.MAX_MACHINES, "MAX_MACHINES", 0, 1000, true),
    audioSecPerMachine: bounded(env.AUDIO_SEC_PER_MACHINE, "AUDIO_SEC_PER_MACHINE", 1, 1_000_000),
    startGraceSec: bounded(env.MACHINE_START_GRACE_SEC, "MACHINE_START_GRACE_SEC", 10, 3600),
  };
}

function nonEmpty(value: string | undefined, name: string): string {
  const v = value?.trim() ?? "";
  if (v.length === 0) throw misconfigured(`${name} must be set when MACHINE_PROVIDER is fly`);
  return v;
}

function bounded(value: string | undefined, name: string, min: number, max: number, integer = false): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw misconfigured(`${name} must be a${integer ? "n integer" : " number"} between ${min} and ${max}`);
  }
  return n;
}

function json<T>(value: string | undefined, schema: z.ZodType<T>, name: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value ?? "");
  } catch {
    throw misconfigured(`${name} must be JSON`);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw misconfigured(`${name}: ${result.error.issues.map((i) => `${i.path.join(".") || "value"} ${i.message}`).join("; ")}`);
  return result.data;
}

function misconfigured(message: string): ApiError {
  // The message names the setting, never its value.
  return new ApiError(503, "service_misconfigured", message);
}
