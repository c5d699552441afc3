import { z } from "zod";
import { ProviderApi } from "./provider-api.ts";

/**
 * A small typed client for the Fly Machines REST API (/v1/apps/{app}/machines),
 * the subset the machine provider needs. The same client talks to the local
 * supervisor (gpu-machine/supervisor), which serves this subset on 127.0.0.1.
 * The design card's `fly-machines-sdk` does not exist on the registry.
 */

export const FLY_MACHINE_STATES = [
  "created",
  "starting",
  "started",
  "stopping",
  "stopped",
  "suspending",
  "suspended",
  "replacing",
  "destroying",
  "destroyed",
  "failed",
] as const;

export const FlyGuest = z.object({
  cpu_kind: z.enum(["shared", "performance"]).default("performance"),
  cpus: z.number().int().min(1).max(64),
  memory_mb: z.number().int().min(256),
  gpu_kind: z.string().min(1).optional(),
  gpus: z.number().int().min(1).optional(),
});
export type FlyGuest = z.infer<typeof FlyGuest>;

export const FlyMachine = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  // Unknown future states are kept as strings rather than failing the whole list.
  state: z.string(),
  region: z.string().optional(),
  instance_id: z.string().optional(),
  config: z
    .looseObject({ image: z.string().optional(), env: z.record(z.string(), z.string()).optional(), metadata: z.record(z.string(), z.string()).optional() })
    .optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});
export type FlyMachine = z.infer<typeof FlyMachine>;

export interface CreateMachine {
  name?: string;
  region?: string;
  config: {
    image: string;
    env: Record<string, string>;
    guest: FlyGuest;
    /** "no": a machine that exits (idle) stays stopped until the provider starts it. */
    restart: { policy: "no" | "always" | "on-failure" };
    auto_destroy: boolean;
    metadata: Record<string, string>;
  };
}

export interface FlyClientOptions {
  /** https://api.machines.dev, or the local supervisor's address. */
  baseUrl: string;
  app: string;
  token: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  attempts?: number;
}

/** Fly allows about 1 request/s per action with bursts of a few (get: 5/s). */
const RATES = { get: { perSec: 5, burst: 10 }, default: { perSec: 1, burst: 3 } };

export class FlyClient {
  private readonly api: ProviderApi;

  constructor(private readonly options: FlyClientOptions) {
    this.api = new ProviderApi({ ...options, api: "fly", rates: RATES });
  }

  async list(): Promise<FlyMachine[]> {
    return z.array(FlyMachine).parse(await this.call("get", "GET", ""));
  }

  async get(id: string): Promise<FlyMachine> {
    return FlyMachine.parse(await this.call("get", "GET", `/${enc(id)}`));
  }

  async create(request: CreateMachine): Promise<FlyMachine> {
    return FlyMachine.parse(await this.call("create", "POST", "", request));
  }

  async start(id: string): Promise<{ previous_state?: string }> {
    return z.looseObject({ previous_state: z.string().optional() }).parse(await this.call("start", "POST", `/${enc(id)}/start`));
  }

  async stop(id: string, options: { signal?: "SIGTERM" | "SIGINT" | "SIGKILL"; timeoutSec?: number } = {}): Promise<void> {
    const body = { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutSec ? { timeout: `${options.timeoutSec}s` } : {}) };
    await this.call("stop", "POST", `/${enc(id)}/stop`, body);
  }

  /** Waits until the machine reaches `state`; a ProviderApiError 408 when it does not within `timeoutSec` (≤ 60). */
  async wait(id: string, state: "started" | "stopped" | "suspended" | "destroyed", timeoutSec = 60, instanceId?: string): Promise<void> {
    const query = new URLSearchParams({ state, timeout: String(Math.min(60, Math.max(1, Math.round(timeoutSec)))) });
    if (instanceId) query.set("instance_id", instanceId);
    await this.call("wait", "GET", `/${enc(id)}/wait?${query}`);
  }

  async destroy(id: string, force = false): Promise<void> {
    await this.call("destroy", "DELETE", `/${enc(id)}${force ? "?force=true" : ""}`);
  }

  private call(action: string, method: string, path: string, body?: unknown): Promise<unknown> {
    return this.api.call(action, method, `/v1/apps/${enc(this.options.app)}/machines${path}`, body);
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
