import { describe, expect, it } from "vitest";
import { nextWebhookStep, WEBHOOK_RETRY_WINDOW_MS, type AttemptOutcome } from "./delivery.ts";

const now = 1_000_000_000;
const response = (status: number, retryAfterMs: number | null = null): AttemptOutcome => ({ kind: "response", status, retryAfterMs });

describe("nextWebhookStep", () => {
  it.each([200, 201, 204, 299])("%s is delivered", (status) => {
    expect(nextWebhookStep(response(status), 1, now, now)).toEqual({ kind: "delivered" });
  });

  it.each([500, 502, 503, 504, 429, 408])("%s is retried", (status) => {
    expect(nextWebhookStep(response(status), 1, now, now).kind).toBe("retry");
  });

  it.each([301, 302, 400, 401, 403, 404, 410, 413, 422])("%s ends delivery", (status) => {
    expect(nextWebhookStep(response(status), 1, now, now)).toMatchObject({ kind: "give_up", reason: `receiver answered HTTP ${status}` });
  });

  it("retries network errors and gives up on blocked URLs", () => {
    expect(nextWebhookStep({ kind: "network_error", message: "connection refused" }, 1, now, now).kind).toBe("retry");
    expect(nextWebhookStep({ kind: "blocked", message: "private" }, 1, now, now).kind).toBe("give_up");
  });

  it("waits longer after each failure, and at least as long as Retry-After", () => {
    const at = (n: number) => (nextWebhookStep(response(503), n, now, now, () => 1) as { atMs: number }).atMs - now;
    expect([1, 2, 3, 4].map(at)).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(at(30)).toBe(3600_000);
    const honoured = nextWebhookStep(response(429, 5 * 3600_000), 1, now, now, () => 1) as { atMs: number };
    expect(honoured.atMs - now).toBe(5 * 3600_000);
  });

  it("keeps trying for 24 hours after the first attempt, then stops", () => {
    expect(nextWebhookStep(response(500), 20, now, now + WEBHOOK_RETRY_WINDOW_MS - 1).kind).toBe("retry");
    expect(nextWebhookStep(response(500), 21, now, now + WEBHOOK_RETRY_WINDOW_MS).kind).toBe("give_up");
  });
});
