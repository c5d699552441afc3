import { describe, expect, it } from "vitest";
import { call, KEY_C, reportRow } from "../test-helpers.ts";

// Runs in the "edge-queue" project, whose API_RATE_LIMIT allows 40 requests per 10 s per key.

describe("per-key request rate", () => {
  it("a key polling faster than its rate gets 429 rate_limited with Retry-After, other keys do not", async () => {
    const statuses: number[] = [];
    let refused: Response | null = null;
    for (let i = 0; i < 80 && !refused; i++) {
      const r = await call("GET", "/v1/transcriptions?limit=1", { key: KEY_C });
      statuses.push(r.status);
      if (r.status === 429) refused = r;
      else await r.arrayBuffer();
    }
    const body = refused ? ((await refused.json()) as { error: { code: string } }) : null;
    const other = await call("GET", "/v1/transcriptions?limit=1");
    await reportRow({
      suite: "quotas",
      case: "80 list requests in a burst from one key (limit 40 per 10 s)",
      expected: "429 rate_limited with Retry-After; another key unaffected",
      observed: refused
        ? `429 ${body?.error.code} after ${statuses.length - 1} answers, Retry-After ${refused.headers.get("retry-after")}; other key ${other.status}`
        : `no refusal in ${statuses.length}`,
      pass: body?.error.code === "rate_limited" && refused?.headers.get("retry-after") !== null && other.status === 200,
    });
    expect(body?.error.code).toBe("rate_limited");
    expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(other.status).toBe(200);
  });
});
