import { describe, expect, it } from "vitest";
import { backoffDelayMs, parseRetryAfterMs, retry } from "./retry.ts";

describe("backoffDelayMs", () => {
  it("doubles from the base, caps, and jitters within [half, full]", () => {
    const opts = { baseMs: 1000, capMs: 10_000 };
    expect([1, 2, 3, 4, 5, 10].map((n) => backoffDelayMs(n, { ...opts, random: () => 1 }))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect([1, 2, 3, 5].map((n) => backoffDelayMs(n, { ...opts, random: () => 0 }))).toEqual([500, 1000, 2000, 5000]);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(3, opts);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});

describe("retry", () => {
  it("retries until success, sleeping the backoff between attempts", async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const value = await retry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error("flaky");
        return "ok";
      },
      { attempts: 5, baseMs: 100, capMs: 1000, random: () => 1, sleep: async (ms) => void sleeps.push(ms) },
    );
    expect([value, calls, sleeps]).toEqual(["ok", 3, [100, 200]]);
  });

  it("waits as long as the server asks when that is longer than the backoff", async () => {
    const sleeps: number[] = [];
    let calls = 0;
    await retry(
      async () => {
        calls += 1;
        if (calls < 3) throw Object.assign(new Error("429"), { after: calls === 1 ? 3000 : 50 });
        return "ok";
      },
      { attempts: 5, baseMs: 100, capMs: 1000, random: () => 1, delayHintMs: (e) => (e as { after: number }).after, sleep: async (ms) => void sleeps.push(ms) },
    );
    expect(sleeps).toEqual([3000, 200]);
  });

  it("stops on a final error or when attempts run out", async () => {
    const final = Object.assign(new Error("bad request"), { final: true });
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls += 1;
          throw final;
        },
        { attempts: 5, baseMs: 1, capMs: 1, retryable: (e) => !(e as { final?: boolean }).final, sleep: async () => {} },
      ),
    ).rejects.toBe(final);
    expect(calls).toBe(1);
    await expect(retry(async () => Promise.reject(new Error("down")), { attempts: 3, baseMs: 1, capMs: 1, sleep: async () => {} })).rejects.toThrow("down");
  });
});

describe("parseRetryAfterMs", () => {
  it("reads seconds and HTTP dates", () => {
    const now = Date.parse("2026-11-23T10:00:00Z");
    expect(parseRetryAfterMs("120", now)).toBe(120_000);
    expect(parseRetryAfterMs("Mon, 23 Nov 2026 10:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfterMs("Mon, 23 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfterMs("soon", now)).toBeNull();
    expect(parseRetryAfterMs(null, now)).toBeNull();
  });
});
