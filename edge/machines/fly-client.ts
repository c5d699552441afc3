import { z } from "zod";
import { parseRetryAfterMs, retry } from "../../shared/retry.ts";

/**
 * A small typed client for the Fly Machines REST API (/v1/apps/{app}/machines),
 * the subset the machine provider needs. The same client talks to the local
 * supervisor (gpu-machine/supervisor), which serves this subset on 127.0.0.1.
 * The design card's `fly-machines-sdk` does not exist on the registry.
 */

export const FLY_MACHINE_STATES = ["created", "starting", "started", "stopping", "stopped", "suspending", "suspended", "replacing", "destroying", "destroyed", "failed"] as const;

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
  config: z.looseObject({ image: z.string().optional(), env: z.record(z.string(), z.string()).optional(), metadata: z.record(z.string(), z.string()).optional() }).optional(),
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

export class FlyApiError extends Error {
  override readonly name = "FlyApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
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

/**
 * Fly allows about 1 request/s per action with bursts of a few (get: 5/s): each
 * action has a token bucket here, so a reconcile that starts many machines paces
 * itself instead of collecting 429s.
 */
const RATES: Record<string, { perSec: number; burst: number }> = { get: { perSec: 5, burst: 10 }, default: { perSec: 1, burst: 3 } };

export class FlyClient {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: FlyClientOptions) {
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = options.now ?? Date.now;
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

  /** Waits until the machine reaches `state`; a FlyApiError 408 when it does not within `timeoutSec` (≤ 60). */
  async wait(id: string, state: "started" | "stopped" | "suspended" | "destroyed", timeoutSec = 60, instanceId?: string): Promise<void> {
    const query = new URLSearchParams({ state, timeout: String(Math.min(60, Math.max(1, Math.round(timeoutSec)))) });
    if (instanceId) query.set("instance_id", instanceId);
    await this.call("wait", "GET", `/${enc(id)}/wait?${query}`);
  }

  async destroy(id: string, force = false): Promise<void> {
    await this.call("destroy", "DELETE", `/${enc(id)}${force ? "?force=true" : ""}`);
  }

  private async call(action: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const url = `${this.options.baseUrl.replace(/\/+$/, "")}/v1/apps/${enc(this.options.app)}/machines${path}`;
    return retry(
      async () => {
        await this.take(action);
        let res: Response;
        try {
          res = await this.fetchFn(url, {
            method,
            headers: { authorization: `Bearer ${this.options.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          });
        } catch (error) {
          throw new FlyApiError(0, `Fly Machines API unreachable at ${this.options.baseUrl}: ${(error as Error).message}`);
        }
        const text = await res.text();
        if (!res.ok) {
          const message = errorMessage(text) ?? res.statusText;
          throw new FlyApiError(res.status, `${method} ${path || "/"}: ${res.status} ${message}`, parseRetryAfterMs(res.headers.get("retry-after"), this.now()));
        }
        return text.length > 0 ? JSON.parse(text) : {};
      },
      {
        attempts: this.options.attempts ?? 4,
        baseMs: 500,
        capMs: 8_000,
        retryable: (e) => e instanceof FlyApiError && e.retryable,
        delayHintMs: (e) => (e instanceof FlyApiError ? e.retryAfterMs : null),
        sleep: this.sleep,
      },
    );
  }

  private async take(action: string): Promise<void> {
    const rate = RATES[action] ?? RATES.default!;
    const now = this.now();
    const bucket = this.buckets.get(action) ?? { tokens: rate.burst, at: now };
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSec);
    bucket.at = now;
    this.buckets.set(action, bucket);
    if (bucket.tokens < 1) {
      const waitMs = Math.ceil(((1 - bucket.tokens) / rate.perSec) * 1000);
      await this.sleep(waitMs);
      bucket.tokens = 1;
      bucket.at = this.now();
    }
    bucket.tokens -= 1;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function errorMessage(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    return typeof parsed.error === "string" ? parsed.error : null;
  } catch {
    return text.length > 0 ? text.slice(0, 200) : null;
  }
}
