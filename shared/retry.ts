/**
 * The one backoff rule of the project: exponential growth from `baseMs`,
 * capped at `capMs`, with "equal jitter" (half fixed, half random) so that
 * many clients failing together do not retry together, yet no retry comes
 * sooner than half its nominal delay.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Injected for deterministic tests; defaults to Math.random. */
  random?: () => number;
}

export function backoffDelayMs(failures: number, opts: BackoffOptions): number {
  const exp = Math.min(opts.capMs, opts.baseMs * 2 ** Math.max(0, failures - 1));
  const random = opts.random ?? Math.random;
  return Math.round(exp / 2 + random() * (exp / 2));
}

export interface RetryOptions extends BackoffOptions {
  attempts: number;
  /** Return false to stop retrying on this error. */
  retryable?: (error: unknown) => boolean;
  /** A delay the server asked for (Retry-After), used instead of the backoff when longer. */
  delayHintMs?: (error: unknown) => number | null;
  sleep?: (ms: number) => Promise<void>;
}

/** For in-process retries (a machine's HTTP posts). Edge retries run from alarms with backoffDelayMs. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= opts.attempts || (opts.retryable && !opts.retryable(error))) throw error;
      await sleep(Math.max(backoffDelayMs(attempt, opts), opts.delayHintMs?.(error) ?? 0));
    }
  }
}

/**
 * Retry-After as seconds or an HTTP date, in milliseconds from `nowMs`;
 * null when absent or unparseable.
 */
export function parseRetryAfterMs(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
