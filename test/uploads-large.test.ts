import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Upload } from "../shared/uploads.ts";
import { startLocalEdge, type LocalEdge } from "./support/local-edge.ts";
import { TEST_API_KEYS, TEST_WEBHOOK_SIGNING_KEY } from "./support/test-secrets.ts";
import { beginUpload, digestOfGenerated, digestOfUrl, putPart, putParts, type UploadApi } from "./support/upload-parts.ts";

const SIZE = 320 * 2 ** 20 + 12_345;

/** Multipart uploads through the Worker under wrangler dev (local R2), at a size where holding a file whole would show. */
describe("a 320 MB multipart upload under wrangler dev", () => {
  let edge: LocalEdge;
  let api: UploadApi;

  beforeAll(async () => {
    edge = await startLocalEdge({ API_KEYS: TEST_API_KEYS.join(","), WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY });
    api = { base: edge.url, key: TEST_API_KEYS[0] };
  }, 120_000);
  afterAll(async () => edge?.stop());

  it("survives a part cut off mid-body, resumes from the parts listed, and reads back byte for byte", async () => {
    const up = await beginUpload(api, SIZE);
    expect(up.part_size_bytes).toBe(16 * 2 ** 20);
    expect(up.parts_total).toBe(21);
    const half = Array.from({ length: 10 }, (_, i) => i + 1);
    await putParts(api, up, half);
    // A client that dies halfway through a part: the part is not recorded.
    const cut = new AbortController();
    const interrupted = putPart(api, up, 11, cut.signal).catch((e: unknown) => e);
    setTimeout(() => cut.abort(), 30);
    await interrupted;
    const listed = (await (await fetch(`${edge.url}/v1/uploads/${up.id}`, { headers: { authorization: `Bearer ${api.key}` } })).json()) as Upload;
    const have = new Set(listed.parts.map((p) => p.part_number));
    expect([...have].filter((n) => n <= 10).sort((a, b) => a - b)).toEqual(half);
    // The resumed client sends what the listing lacks, out of order.
    const rest = Array.from({ length: 21 }, (_, i) => i + 1).filter((n) => !have.has(n) || n === 11);
    await putParts(api, up, rest.reverse());
    const done = await fetch(`${edge.url}/v1/uploads/${up.id}/complete`, { method: "POST", headers: { authorization: `Bearer ${api.key}` } });
    expect(done.status).toBe(200);
    const completed = (await done.json()) as Upload;
    expect(completed.size_bytes).toBe(SIZE);
    expect(await digestOfUrl(completed.content_url!)).toBe(await digestOfGenerated(SIZE));
  }, 240_000);
});
