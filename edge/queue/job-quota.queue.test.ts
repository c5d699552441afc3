import { describe, expect, it } from "vitest";
import { call, KEY_B, reportRow } from "../test-helpers.ts";

// Runs in the "edge-queue" project, where MAX_ACTIVE_JOBS_PER_KEY is 6.

const submitB = () => call("POST", "/v1/transcriptions", { key: KEY_B, body: { audio_url: "https://media.test/audio.mp3" } });

describe("per-key job limit", () => {
  it("a key at MAX_ACTIVE_JOBS_PER_KEY gets 429 with Retry-After until one of its jobs finishes", async () => {
    const accepted: string[] = [];
    let refused: Response | null = null;
    for (let i = 0; i < 10 && !refused; i++) {
      const r = await submitB();
      if (r.status === 202) accepted.push(((await r.json()) as { id: string }).id);
      else refused = r;
    }
    const body = refused ? ((await refused.json()) as { error: { code: string; message: string } }) : null;
    await reportRow({
      suite: "quotas",
      case: "a key submits jobs past MAX_ACTIVE_JOBS_PER_KEY=6",
      expected: "429 too_many_jobs with Retry-After",
      observed: refused
        ? `${refused.status} ${body?.error.code}, Retry-After ${refused.headers.get("retry-after")}`
        : `no refusal after ${accepted.length} jobs`,
      pass: refused?.status === 429 && body?.error.code === "too_many_jobs" && refused.headers.get("retry-after") !== null,
    });
    expect(refused?.status).toBe(429);
    expect(body?.error.code).toBe("too_many_jobs");
    expect(Number(refused!.headers.get("retry-after"))).toBeGreaterThan(0);
    // A finished (here canceled) job frees its place.
    expect((await call("POST", `/v1/transcriptions/${accepted[0]}/cancel`, { key: KEY_B })).status).toBe(200);
    expect((await submitB()).status).toBe(202);
  });
});
