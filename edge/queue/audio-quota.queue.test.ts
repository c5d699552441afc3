import { describe, expect, it } from "vitest";
import { claimFor, media, post } from "../routes/machine-test-helpers.ts";
import { call, KEY_D, reportRow } from "../test-helpers.ts";

// Runs in the "edge-queue" project, where MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY is 1.

const submitD = () => call("POST", "/v1/transcriptions", { key: KEY_D, body: { audio_url: "https://media.test/audio.mp3" } });

describe("per-key audio in flight", () => {
  it("a key whose unfinished jobs hold its hours of audio gets 429 too_much_audio until one finishes", async () => {
    const first = await submitD();
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    // The plan finds two hours of audio.
    const plan = await claimFor(id, "plan");
    const ranges = [0, 1, 2, 3].map((i) => ({ start_sec: i * 1800, end_sec: (i + 1) * 1800 }));
    expect((await post(plan, "complete", { machine_sec: 1, plan: { duration_sec: 7200, ranges, media: { ...media, duration_sec: 7200 } } })).status).toBe(200);
    const refused = await submitD();
    const body = (await refused.json()) as { error?: { code: string } };
    await reportRow({
      suite: "quotas",
      case: "a key with a 2 h job unfinished submits again (MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY=1)",
      expected: "429 too_much_audio with Retry-After",
      observed: `${refused.status} ${body.error?.code ?? ""}, Retry-After ${refused.headers.get("retry-after")}`,
      pass: refused.status === 429 && body.error?.code === "too_much_audio" && refused.headers.get("retry-after") !== null,
    });
    expect(refused.status).toBe(429);
    expect(body.error?.code).toBe("too_much_audio");
    expect((await call("POST", `/v1/transcriptions/${id}/cancel`, { key: KEY_D })).status).toBe(200);
    expect((await submitD()).status).toBe(202);
  });
});
