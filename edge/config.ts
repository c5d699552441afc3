import { z } from "zod";
import { ApiError } from "./errors.ts";
import { FlyGuest } from "./providers/fly-client.ts";
import type { MachineSpec } from "./providers/fly-provider.ts";
import { mergePrices, PriceTable } from "./providers/prices.ts";
import { RUNPOD_API_URL, type RunPodSpec } from "./providers/runpod-provider.ts";

/** A provider as MACHINE_PROVIDER names it: Fly Machines, the local supervisor (same API), or RunPod Pods. */
export type ProviderConfig =
  | { kind: "fly" | "local"; apiUrl: string; app: string; token: string; spec: MachineSpec }
  | { kind: "runpod"; apiUrl: string; apiKey: string; spec: RunPodSpec };

export const PROVIDER_KINDS = ["runpod", "fly", "local"] as const;

/** Machines on demand, from one or more providers in order of preference. */
export interface FleetConfig {
  providers: ProviderConfig[];
  maxMachines: number;
  audioSecPerMachine: number;
  startGraceSec: number;
  /** Machines exit after this long without work (passed to them as IDLE_EXIT_SEC). */
  idleExitSec: number;
  /** The edge retires a machine idle for IDLE_EXIT_SEC plus this, in case it did not exit (or was restarted). */
  idleGraceSec: number;
}

/** The edge's whole configuration, read and checked in this one place. */
export interface Config {
  apiKeys: readonly string[];
  webhookSigningKey: string;
  /** Local mode and tests only: lets media and webhook URLs point at 127.0.0.1/localhost. */
  allowLoopbackUrls: boolean;
  /** $/h for machines the edge did not start (MACHINE_PROVIDER "none", or started by hand). */
  machinePricePerHourUsd: number;
  /** $/h per provider and machine type: the defaults with MACHINE_PRICES laid over them. */
  machinePrices: PriceTable;
  /** Origin used in status_url/transcript_url; the request's own origin when unset. */
  publicBaseUrl: string | null;
  /** The shared secret for machines run by hand; null when only the fleet's machines, each with its own credential, may connect. */
  machineToken: string | null;
  /** Seconds a task lease lasts without a heartbeat. */
  leaseSec: number;
  /** Unfinished jobs one API key may have at once; 0 for no limit. */
  maxActiveJobsPerKey: number;
  /** Hours of planned audio one API key may have unfinished at once; 0 for no limit. */
  maxAudioHoursInFlightPerKey: number;
  /** Work queue objects jobs are spread over by id (QUEUE_SHARDS); shard 0 also holds the fleet. */
  queueShards: number;
  /** Null with MACHINE_PROVIDER "none": machines are started by hand. */
  fleet: FleetConfig | null;
  uploads: UploadConfig;
  /** The OpenAI-compatible routes (routes/openai-audio.ts). */
  openai: { models: readonly string[]; maxFileBytes: number };
}

/** Uploads (edge/uploads/): sizes in bytes, times in ms. */
export interface UploadConfig {
  /** The largest request body the platform passes to the Worker (MAX_REQUEST_BODY_MB: 100 on Free and Pro, 200 Business, 500 Enterprise). */
  maxBodyBytes: number;
  /** Multipart parts are this size (UPLOAD_PART_MB), or larger when a file needs more than 10,000 parts. */
  partBytes: number;
  /** One file at most (MAX_UPLOAD_GB). */
  maxFileBytes: number;
  /** Live uploads of one key together at most (MAX_UPLOAD_GB_PER_KEY; 0: no limit). */
  maxBytesPerKey: number;
  /** Uploads are deleted this long after they were made (UPLOAD_TTL_HOURS), unless a job still reads them. */
  ttlMs: number;
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
  const apiKeys = (env.API_KEYS ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
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
  const maxActiveJobsPerKey = Number(env.MAX_ACTIVE_JOBS_PER_KEY ?? "100");
  if (!Number.isInteger(maxActiveJobsPerKey) || maxActiveJobsPerKey < 0)
    throw misconfigured("MAX_ACTIVE_JOBS_PER_KEY must be a whole number ≥ 0 (0: no limit)");
  const maxAudioHoursInFlightPerKey = Number(env.MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY ?? "200");
  if (!Number.isFinite(maxAudioHoursInFlightPerKey) || maxAudioHoursInFlightPerKey < 0) {
    throw misconfigured("MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY must be a number ≥ 0 (0: no limit)");
  }
  return {
    apiKeys,
    webhookSigningKey,
    allowLoopbackUrls: env.ALLOW_LOOPBACK_URLS === "true",
    machinePricePerHourUsd: price,
    machinePrices: mergePrices(json(env.MACHINE_PRICES || "{}", PriceTable, "MACHINE_PRICES")),
    publicBaseUrl,
    machineToken: machineToken.length > 0 ? machineToken : null,
    leaseSec,
    maxActiveJobsPerKey,
    maxAudioHoursInFlightPerKey,
    queueShards: bounded(env.QUEUE_SHARDS ?? "1", "QUEUE_SHARDS", 1, 64, true),
    fleet: parseFleet(env, publicBaseUrl),
    uploads: parseUploads(env),
    openai: {
      // Names OpenAI clients send as `model`, all served by this deployment's Whisper.
      models: (env.OPENAI_MODELS ?? "whisper-1")
        .split(",")
        .map((m) => m.trim())
        .filter((m) => m.length > 0),
      // OpenAI's own limit is 25 MB, which clients already respect; the form is read whole.
      maxFileBytes: bounded(env.OPENAI_MAX_FILE_MB ?? "25", "OPENAI_MAX_FILE_MB", 1, 100) * 1_000_000,
    },
  };
}

function parseFleet(env: Env, publicBaseUrl: string | null): FleetConfig | null {
  const kinds = (env.MACHINE_PROVIDER ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  if (kinds.length === 0 || (kinds.length === 1 && kinds[0] === "none")) return null;
  const unknown = kinds.find((k) => !(PROVIDER_KINDS as readonly string[]).includes(k));
  if (unknown !== undefined || new Set(kinds).size !== kinds.length) {
    throw misconfigured(
      `MACHINE_PROVIDER must be "none" or an ordered list of ${PROVIDER_KINDS.join(", ")} without repeats (e.g. "runpod,fly"); got "${env.MACHINE_PROVIDER}"`,
    );
  }
  const named = `MACHINE_PROVIDER is ${kinds.join(",")}`;
  if (!publicBaseUrl) throw misconfigured(`PUBLIC_BASE_URL must be set when ${named}: machines are told it as EDGE_URL`);
  const extraEnv = json(env.MACHINE_ENV || "{}", z.record(z.string(), z.string()), "MACHINE_ENV");
  const reserved = ["IDLE_EXIT_SEC", "EDGE_URL", "MACHINE_TOKEN", "MACHINE_CREDENTIAL"].filter((k) => k in extraEnv);
  if (reserved.length > 0) {
    throw misconfigured(
      `MACHINE_ENV must not set ${reserved.join(", ")}: the edge passes IDLE_EXIT_SEC and PUBLIC_BASE_URL itself, and each machine gets its own credential (never the shared MACHINE_TOKEN)`,
    );
  }
  const idleExitSec = bounded(env.IDLE_EXIT_SEC ?? "120", "IDLE_EXIT_SEC", 1, 86_400);
  const machineEnv = { ...extraEnv, EDGE_URL: publicBaseUrl, IDLE_EXIT_SEC: String(idleExitSec) };
  const image = nonEmpty(env.MACHINE_IMAGE, "MACHINE_IMAGE", named);
  const providers = kinds.map((kind): ProviderConfig => {
    switch (kind) {
      case "fly":
      case "local":
        return {
          kind,
          apiUrl: (env.FLY_API_URL || "https://api.machines.dev").replace(/\/+$/, ""),
          app: nonEmpty(env.FLY_APP, "FLY_APP", named),
          token: secret(env.FLY_API_TOKEN, "FLY_API_TOKEN", "`fly tokens create deploy -a <app>` (or the local supervisor's token)"),
          spec: { image, guest: json(env.MACHINE_GUEST, FlyGuest, "MACHINE_GUEST"), region: env.MACHINE_REGION?.trim() || null, env: machineEnv },
        };
      case "runpod":
        return {
          kind,
          apiUrl: (env.RUNPOD_API_URL || RUNPOD_API_URL).replace(/\/+$/, ""),
          apiKey: secret(env.RUNPOD_API_KEY, "RUNPOD_API_KEY", "a RunPod API key with read/write on pods"),
          spec: {
            image: env.RUNPOD_IMAGE?.trim() || image,
            gpuTypes: list(env.RUNPOD_GPU_TYPES, "RUNPOD_GPU_TYPES"),
            cloudType: oneOf(env.RUNPOD_CLOUD_TYPE || "SECURE", ["SECURE", "COMMUNITY"] as const, "RUNPOD_CLOUD_TYPE"),
            containerDiskGb: bounded(env.RUNPOD_CONTAINER_DISK_GB || "20", "RUNPOD_CONTAINER_DISK_GB", 5, 2000, true),
            env: machineEnv,
          },
        };
      default:
        throw misconfigured(`MACHINE_PROVIDER: unknown provider "${kind}"`);
    }
  });
  return {
    providers,
    maxMachines: bounded(env.MAX_MACHINES, "MAX_MACHINES", 0, 1000, true),
    audioSecPerMachine: bounded(env.AUDIO_SEC_PER_MACHINE, "AUDIO_SEC_PER_MACHINE", 1, 1_000_000),
    startGraceSec: bounded(env.MACHINE_START_GRACE_SEC, "MACHINE_START_GRACE_SEC", 10, 3600),
    idleExitSec,
    idleGraceSec: bounded(env.MACHINE_IDLE_GRACE_SEC ?? "60", "MACHINE_IDLE_GRACE_SEC", 0, 3600),
  };
}

const MIB = 2 ** 20;
const GIB = 2 ** 30;

function parseUploads(env: Env): UploadConfig {
  const maxBodyBytes = bounded(env.MAX_REQUEST_BODY_MB ?? "100", "MAX_REQUEST_BODY_MB", 1, 500) * 1_000_000;
  // R2 takes parts of 5 MiB and up (all but the last the same size), at most 10,000 of them.
  const partBytes = bounded(env.UPLOAD_PART_MB ?? "16", "UPLOAD_PART_MB", 5, 500) * MIB;
  if (partBytes > maxBodyBytes) throw misconfigured("UPLOAD_PART_MB must fit in one request body (MAX_REQUEST_BODY_MB)");
  return {
    maxBodyBytes,
    partBytes,
    maxFileBytes: bounded(env.MAX_UPLOAD_GB ?? "50", "MAX_UPLOAD_GB", 0.001, 5000) * GIB,
    maxBytesPerKey: bounded(env.MAX_UPLOAD_GB_PER_KEY ?? "200", "MAX_UPLOAD_GB_PER_KEY", 0, 1_000_000) * GIB,
    ttlMs: bounded(env.UPLOAD_TTL_HOURS ?? "72", "UPLOAD_TTL_HOURS", 0.01, 24 * 365) * 3600_000,
  };
}

function nonEmpty(value: string | undefined, name: string, when: string): string {
  const v = value?.trim() ?? "";
  if (v.length === 0) throw misconfigured(`${name} must be set when ${when}`);
  return v;
}

function secret(value: string | undefined, name: string, what: string): string {
  const v = value?.trim() ?? "";
  if (v.length === 0) throw misconfigured(`${name} is not set: \`wrangler secret put ${name}\` (or .dev.vars locally) with ${what}`);
  return v;
}

function list(value: string | undefined, name: string): string[] {
  const items = (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw misconfigured(`${name} must list at least one type, in order of preference (e.g. "NVIDIA L4,NVIDIA RTX A5000")`);
  return items;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  const v = value.trim().toUpperCase();
  if (!(allowed as readonly string[]).includes(v)) throw misconfigured(`${name} must be one of ${allowed.join(", ")}`);
  return v as T;
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

/** Where callers reach this API: PUBLIC_BASE_URL, else the origin the request came to. */
export function publicBase(env: Env, requestUrl: string): string {
  return readConfig(env).publicBaseUrl ?? new URL(requestUrl).origin;
}
