import { SELF } from "cloudflare:test";
import createClient from "openapi-fetch";
import { describe, expect, it } from "vitest";
import { BASE, KEY_D } from "../test-helpers.ts";
import type { paths } from "./generated/api";

/**
 * A client generated from GET /openapi.json (`npm run openapi`: openapi-typescript's
 * types, openapi-fetch's calls), calling the Worker. tsc checks these calls against
 * the generated types, so a route whose description drifts from its schemas breaks
 * the build here; the assertions break if the answers drift from the description.
 */
const client = createClient<paths>({ baseUrl: BASE, headers: { authorization: `Bearer ${KEY_D}` }, fetch: (request) => SELF.fetch(request) });

describe("a client generated from the OpenAPI document", () => {
  it("creates a transcription, reads it, lists it, and is told its transcript is not ready", async () => {
    const created = await client.POST("/v1/transcriptions", {
      params: { header: { "idempotency-key": "generated-client-1" } },
      body: { audio_url: "https://media.test/audio.mp3", language: "en", metadata: { from: "openapi-fetch" } },
    });
    expect(created.response.status).toBe(202);
    const id = created.data!.id;
    expect(created.data!.status_url).toBe(`${BASE}/v1/transcriptions/${id}`);

    const job = await client.GET("/v1/transcriptions/{id}", { params: { path: { id } } });
    expect(job.response.status).toBe(200);
    expect(job.data).toMatchObject({ id, object: "transcription", audio_url: "https://media.test/audio.mp3", metadata: { from: "openapi-fetch" } });
    expect(["queued", "planning", "running"]).toContain(job.data!.status);

    const list = await client.GET("/v1/transcriptions", { params: { query: { limit: "100" } } });
    expect(list.response.status).toBe(200);
    expect(list.data!.object).toBe("list");
    expect(list.data!.data.map((j) => j.id)).toContain(id);

    const transcript = await client.GET("/v1/transcriptions/{id}/transcript", { params: { path: { id }, query: { format: "json" } } });
    expect(transcript.response.status).toBe(409);
    expect(transcript.data).toBeUndefined();
    expect(transcript.error!.error.code).toBe("not_ready");
  });

  it("gets the error body the document describes for an unknown id", async () => {
    const missing = await client.GET("/v1/transcriptions/{id}", { params: { path: { id: "tr_doesnotexist" } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error!.error.code).toBe("not_found");
  });
});
