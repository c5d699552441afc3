import { assertNever } from "../../shared/assert-never.ts";
import { backoffDelayMs, parseRetryAfterMs } from "../../shared/retry.ts";
import { checkWebhookUrl, type UrlPolicy } from "../url-safety.ts";
import { signWebhook } from "../../shared/webhook-signing.ts";

export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Retries go on for at least this long after the first attempt. */
export const WEBHOOK_RETRY_WINDOW_MS = 24 * 3600_000;
const BACKOFF = { baseMs: 30_000, capMs: 3600_000 };

export type AttemptOutcome =
  | { kind: "response"; status: number; retryAfterMs: number | null }
  | { kind: "network_error"; message: string }
  | { kind: "blocked"; message: string };

export interface WebhookMessage {
  url: string;
  secret: string;
  eventId: string;
  body: string;
}

/**
 * One delivery attempt: no redirects are followed, and the URL is checked
 * again in case policy changed. The signed timestamp is the wall clock at
 * sending, which receivers compare with their own to refuse replays.
 */
export async function deliverOnce(msg: WebhookMessage, policy: UrlPolicy): Promise<AttemptOutcome> {
  const verdict = checkWebhookUrl(msg.url, policy);
  if (!verdict.ok) return { kind: "blocked", message: verdict.message };
  const sentAt = Date.now();
  const timestamp = Math.floor(sentAt / 1000);
  try {
    const response = await fetch(verdict.url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      headers: {
        "content-type": "application/json",
        "user-agent": "longscribe-webhooks/1",
        "webhook-id": msg.eventId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": await signWebhook(msg.secret, msg.eventId, timestamp, msg.body),
      },
      body: msg.body,
    });
    await response.body?.cancel().catch(() => undefined);
    return { kind: "response", status: response.status, retryAfterMs: parseRetryAfterMs(response.headers.get("retry-after"), sentAt) };
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    return { kind: "network_error", message: timedOut ? `no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s` : String(error) };
  }
}

export type WebhookStep = { kind: "delivered" } | { kind: "retry"; atMs: number; reason: string } | { kind: "give_up"; reason: string };

/**
 * After attempt number `attempts` (1-based): retry network errors, timeouts,
 * 408, 429 and 5xx with backoff (Retry-After wins when longer) for at least
 * 24 h; any other answer is final. 2xx is success; 3xx counts as a refusal,
 * since a signed delivery must not be re-sent to wherever a redirect points.
 */
export function nextWebhookStep(outcome: AttemptOutcome, attempts: number, firstAttemptMs: number, nowMs: number, random?: () => number): WebhookStep {
  let reason: string;
  let retryAfterMs: number | null = null;
  switch (outcome.kind) {
    case "blocked":
      return { kind: "give_up", reason: outcome.message };
    case "network_error":
      reason = outcome.message;
      break;
    case "response": {
      const s = outcome.status;
      if (s >= 200 && s < 300) return { kind: "delivered" };
      if (!(s >= 500 || s === 429 || s === 408)) return { kind: "give_up", reason: `receiver answered HTTP ${s}` };
      reason = `receiver answered HTTP ${s}`;
      retryAfterMs = outcome.retryAfterMs;
      break;
    }
    default:
      return assertNever(outcome);
  }
  if (nowMs - firstAttemptMs >= WEBHOOK_RETRY_WINDOW_MS) {
    return { kind: "give_up", reason: `${reason}; still failing after ${attempts} attempts over 24 h` };
  }
  const backoff = backoffDelayMs(attempts, { ...BACKOFF, ...(random ? { random } : {}) });
  const delay = Math.min(Math.max(backoff, retryAfterMs ?? 0), WEBHOOK_RETRY_WINDOW_MS);
  return { kind: "retry", atMs: nowMs + delay, reason };
}
