import { describe, expect, it } from "vitest";
import { call, expectError, submit } from "../test-helpers.ts";

// Runs in the "edge-local" project, where ALLOW_LOOPBACK_URLS is "true" as in `npm start`.
describe("local mode", () => {
  it("accepts media and webhooks on loopback", async () => {
    const job = await submit({ audio_url: "http://127.0.0.1:8787/audio.mp3", webhook_url: "http://localhost:9000/hook" });
    expect(job.status).toBe("queued");
    await submit({ audio_url: "https://media.test/redirect-to-loopback" });
  });

  it("still refuses private networks and metadata endpoints", async () => {
    await expectError(await call("POST", "/v1/transcriptions", { body: { audio_url: "http://10.0.0.1/a.mp3" } }), 422, "url_not_allowed");
    await expectError(await call("POST", "/v1/transcriptions", { body: { audio_url: "https://media.test/redirect-to-metadata" } }), 422, "url_not_allowed");
  });
});
