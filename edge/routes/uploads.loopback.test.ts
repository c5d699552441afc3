import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, call, expectError, KEY_A, reportRow } from "../test-helpers.ts";

/** Local mode's file uploads (the web page's file picker): stored, then read back as machines read media. */
async function upload(bytes: Uint8Array, type = "audio/mpeg"): Promise<{ id: string; url: string; size_bytes: number; content_type: string }> {
  const r = await SELF.fetch(`${BASE}/v1/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY_A}`, "content-type": type, "x-file-name": "talk.mp3" },
    body: bytes,
  });
  expect(r.status).toBe(201);
  return (await r.json()) as { id: string; url: string; size_bytes: number; content_type: string };
}

describe("uploads (local mode)", () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);

  it("stores a file and serves it whole and by range, with the validators the media check and the machines rely on", async () => {
    const up = await upload(bytes);
    expect(up).toMatchObject({ size_bytes: 1000, content_type: "audio/mpeg" });
    expect(up.url).toBe(`${BASE}/v1/uploads/${up.id}`);
    const path = `/v1/uploads/${up.id}`;

    const head = await SELF.fetch(`${BASE}${path}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("1000");
    expect(head.headers.get("accept-ranges")).toBe("bytes");
    expect(head.headers.get("content-type")).toBe("audio/mpeg");
    expect(head.headers.get("etag")).toBeTruthy();
    expect(head.headers.get("last-modified")).toBeTruthy();

    const probe = await SELF.fetch(`${BASE}${path}`, { headers: { range: "bytes=0-0" } });
    expect(probe.status).toBe(206);
    expect(probe.headers.get("content-range")).toBe("bytes 0-0/1000");
    expect([...new Uint8Array(await probe.arrayBuffer())]).toEqual([0]);

    const middle = await SELF.fetch(`${BASE}${path}`, { headers: { range: "bytes=500-509" } });
    expect(middle.headers.get("content-range")).toBe("bytes 500-509/1000");
    expect([...new Uint8Array(await middle.arrayBuffer())]).toEqual([...bytes.slice(500, 510)]);

    const open = await SELF.fetch(`${BASE}${path}`, { headers: { range: "bytes=990-" } });
    expect(open.headers.get("content-range")).toBe("bytes 990-999/1000");
    const suffix = await SELF.fetch(`${BASE}${path}`, { headers: { range: "bytes=-3" } });
    expect(suffix.headers.get("content-range")).toBe("bytes 997-999/1000");
    expect([...new Uint8Array(await suffix.arrayBuffer())]).toEqual([...bytes.slice(997)]);

    const whole = await SELF.fetch(`${BASE}${path}`);
    expect(whole.status).toBe(200);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);

    await expectError(await SELF.fetch(`${BASE}${path}`, { headers: { range: "bytes=1000-" } }), 416, "range_not_satisfiable");
  });

  it("serves an upload that claims to be a web page as bytes to download, never as a page on this origin", async () => {
    const up = await upload(new TextEncoder().encode("<script>alert(document.cookie)</script>"), "text/html");
    const r = await SELF.fetch(`${BASE}/v1/uploads/${up.id}`);
    const served = [r.headers.get("content-type"), r.headers.get("x-content-type-options"), r.headers.get("content-disposition")];
    await r.arrayBuffer();
    await reportRow({
      suite: "bad input: uploads",
      case: "an upload sent as text/html, read back",
      expected: "application/octet-stream, nosniff, attachment",
      observed: served.join(", "),
      pass: served.join(", ") === "application/octet-stream, nosniff, attachment",
    });
    expect(served).toEqual(["application/octet-stream", "nosniff", "attachment"]);
  });

  it("refuses uploads without a key or a body, and unknown ids", async () => {
    await expectError(await call("POST", "/v1/uploads", { key: null, rawBody: "x" }), 401, "unauthorized");
    await expectError(await call("POST", "/v1/uploads", { rawBody: "" }), 400, "invalid_request");
    await expectError(await call("GET", "/v1/uploads/up_0123456789abcdefghjkmnpq", { key: null }), 404, "not_found");
    await expectError(await call("GET", "/v1/uploads/../../etc", { key: null }), 404, "not_found");
  });

  it("says uploads are on in /healthz", async () => {
    expect(await (await call("GET", "/healthz", { key: null })).json()).toEqual({ ok: true, uploads: true });
  });
});
