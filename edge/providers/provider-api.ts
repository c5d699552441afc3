import { parseRetryAfterMs, retry } from "../../shared/retry.ts";
import { redactCredentials } from "../tasks/machine-credential.ts";

/**
 * The one HTTP caller behind every machine provider's REST client (Fly
 * Machines, RunPod): a bearer token, a token bucket per action so a reconcile
 * that starts many machines paces itself instead of collecting 429s, and the
 * project's retry with jittered backoff for 429/5xx/unreachable, honouring
 * Retry-After. Answers are parsed JSON; errors are ProviderApiError.
 */

export class ProviderApiError extends Error {
  override readonly name = "ProviderApiError";
  constructor(
    /** Which API answered: "fly", "runpod". */
    readonly api: string,
    /** 0 when the API never answered. */
    readonly status: number,
    message: string,
    readonly retryAfterMs: number | null = null,
    /** The API's own error text, for providers that classify answers by it. */
    readonly detail: string = "",
  ) {
    super(message);
  }

  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface Rate {
  perSec: number;
  burst: number;
}

export interface ProviderApiOptions {
  api: string;
  baseUrl: string;
  token: string;
  /** Per action; `default` covers the rest. */
  rates: Record<string, Rate> & { default: Rate };
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  attempts?: number;
  /** Values that must never appear in an error message (the API may echo a request back). */
  secrets?: readonly string[];
}

export class ProviderApi {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: ProviderApiOptions) {
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = options.now ?? Date.now;
  }

  get baseUrl(): string {
    return this.options.baseUrl.replace(/\/+$/, "");
  }

  /** `path` is appended to the base URL as it is (callers encode their ids); `attempts` overrides the client's for one call. */
  async call(action: string, method: string, path: string, body?: unknown, attempts = this.options.attempts ?? 4): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    const { api } = this.options;
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
          throw new ProviderApiError(api, 0, `${api} API unreachable at ${this.baseUrl}: ${(error as Error).message}`);
        }
        const text = await res.text();
        if (!res.ok) {
          const detail = this.redact(errorText(text) ?? res.statusText);
          throw new ProviderApiError(
            api,
            res.status,
            `${api} ${method} ${path}: ${res.status} ${detail}`,
            parseRetryAfterMs(res.headers.get("retry-after"), this.now()),
            detail,
          );
        }
        if (text.length === 0) return {};
        try {
          return JSON.parse(text);
        } catch {
          throw new ProviderApiError(api, res.status, `${api} ${method} ${path}: ${res.status} with a body that is not JSON`);
        }
      },
      {
        attempts,
        baseMs: 500,
        capMs: 8_000,
        retryable: (e) => e instanceof ProviderApiError && e.retryable,
        delayHintMs: (e) => (e instanceof ProviderApiError ? e.retryAfterMs : null),
        sleep: this.sleep,
      },
    );
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of [this.options.token, ...(this.options.secrets ?? [])]) if (secret.length >= 8) out = out.split(secret).join("[redacted]");
    // A create call's env holds the new machine's credential.
    return redactCredentials(out);
  }

  private async take(action: string): Promise<void> {
    const rate = this.options.rates[action] ?? this.options.rates.default;
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

/** `{ "error": "…" }` (Fly), RFC 9457 `{ "title", "detail", "errors" }` (RunPod v2), `{ "message" }`, or the text itself. */
function errorText(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown; errors?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
    if (typeof parsed.detail === "string") {
      const errors = Array.isArray(parsed.errors) ? parsed.errors.filter((e): e is string => typeof e === "string") : [];
      return errors.length > 0 ? `${parsed.detail} (${errors.join("; ")})` : parsed.detail;
    }
    if (parsed.error && typeof parsed.error === "object" && typeof (parsed.error as { message?: unknown }).message === "string")
      return (parsed.error as { message: string }).message;
    if (typeof parsed.message === "string") return parsed.message;
    return text.slice(0, 300);
  } catch {
    return text.length > 0 ? text.slice(0, 300) : null;
  }
}
