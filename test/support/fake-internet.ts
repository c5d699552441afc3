import { fakeFly, fakeRunPod } from "./fake-providers.ts";

/**
 * The outside world for edge tests, served from Node through miniflare's
 * `outboundService`: every fetch the Worker (or a test) makes lands here, so
 * nothing leaves the machine. Hosts:
 *   media.test, 127.0.0.1, localhost  recordings and broken media servers
 *   hooks.test                        webhook receivers whose behaviour is in the path
 *   control.test                      lets a test read what the receivers got, and
 *                                     POST /report records a reliability row (edge tests have no files)
 *   fly.test, runpod.test             machine providers' APIs with machines in memory (fake-providers.ts)
 */

const MEDIA_BYTES = makeMedia(256 * 1024);

function makeMedia(size: number): Uint8Array<ArrayBuffer> {
  // An ID3v2 header then pseudo-random bytes: enough for the edge, which
  // checks headers and ranges but never decodes.
  const bytes = new Uint8Array(size);
  bytes.set([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
  let x = 12345;
  for (let i = 10; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

export interface Delivery {
  at: number;
  headers: Record<string, string>;
  body: string;
}

const deliveries = new Map<string, Delivery[]>();
const hits = new Map<string, number>();

export async function fakeInternet(request: Request): Promise<Response> {
  const url = new URL(request.url);
  switch (url.hostname) {
    case "media.test":
    case "127.0.0.1":
    case "localhost":
      return media(request, url);
    case "hooks.test":
      return hook(request, url);
    case "control.test":
      return url.pathname === "/report" && request.method === "POST" ? report(request) : control(url);
    case "fly.test":
      return fakeFly(request, url);
    case "runpod.test":
      return fakeRunPod(request, url);
    default:
      return new Response(`fake internet: no host ${url.hostname}`, { status: 502 });
  }
}

function media(request: Request, url: URL): Response {
  const path = url.pathname;
  const count = (hits.get(`${url.host}${path}`) ?? 0) + 1;
  hits.set(`${url.host}${path}`, count);
  if (path === "/missing.mp3") return new Response("not found", { status: 404 });
  if (path === "/private.mp3") return new Response("unauthorized", { status: 401 });
  if (path === "/page.html") return new Response("<!doctype html><p>hello</p>", { headers: { "content-type": "text/html; charset=utf-8" } });
  if (path === "/data.json") return Response.json({ hello: "world" });
  if (path === "/loop") return redirect(url.href);
  if (path === "/redirect-to-loopback") return redirect("http://127.0.0.1/audio.mp3");
  if (path === "/redirect-to-private") return redirect("http://10.1.2.3/audio.mp3");
  if (path === "/redirect-to-metadata") return redirect("http://169.254.169.254/latest/meta-data/");
  if (path === "/redirect-to-ipv6-loopback") return redirect("http://[::1]/audio.mp3");
  if (path === "/redirect-to-file") return redirect("file:///etc/passwd");
  if (path === "/redirect-to-credentials") return redirect("https://user:secret@media.test/audio.mp3");
  if (path === "/redirect-to-garbage") return redirect("http://[not-an-address/");
  // Empty recordings the edge cannot size from HEAD: one gives no length and
  // answers the range probe as RFC 9110 asks (416, `*/0`); one refuses HEAD
  // and answers every GET with an empty 200, Range or not.
  if (path === "/empty-unsized.mp3") {
    if (request.headers.has("range")) return new Response(null, { status: 416, headers: { "content-range": "bytes */0" } });
    return new Response(null, { headers: { "content-type": "audio/mpeg" } });
  }
  if (path === "/empty-200.mp3") {
    if (request.method === "HEAD") return new Response(null, { status: 405 });
    return new Response(new Uint8Array(0), { headers: { "content-type": "audio/mpeg", "content-length": "0" } });
  }
  const hops = /^\/redirect\/(\d+)$/.exec(path);
  if (hops) {
    const n = Number(hops[1]);
    return redirect(n <= 1 ? "/audio.mp3" : `/redirect/${n - 1}`);
  }
  if (path === "/no-head.mp3" && request.method === "HEAD") return new Response(null, { status: 405 });
  const bytes = path === "/empty.mp3" ? new Uint8Array(0) : MEDIA_BYTES;
  const headers = { "content-type": "audio/mpeg", etag: '"v1"', "last-modified": "Mon, 02 Nov 2026 10:00:00 GMT" };
  if (path === "/no-range.mp3") return full(request, bytes, headers);
  return ranged(request, bytes, headers);
}

function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location } });
}

function full(request: Request, bytes: Uint8Array<ArrayBuffer>, headers: Record<string, string>): Response {
  const h = { ...headers, "content-length": String(bytes.byteLength) };
  return new Response(request.method === "HEAD" ? null : bytes, { status: 200, headers: h });
}

function ranged(request: Request, bytes: Uint8Array<ArrayBuffer>, headers: Record<string, string>): Response {
  const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.get("range") ?? "");
  if (!range) return full(request, bytes, { ...headers, "accept-ranges": "bytes" });
  const start = Number(range[1]);
  if (start >= bytes.byteLength) {
    return new Response(null, { status: 416, headers: { "content-range": `bytes */${bytes.byteLength}` } });
  }
  const end = Math.min(bytes.byteLength - 1, range[2] ? Number(range[2]) : bytes.byteLength - 1);
  const slice = bytes.slice(start, end + 1);
  return new Response(request.method === "HEAD" ? null : slice, {
    status: 206,
    headers: {
      ...headers,
      "accept-ranges": "bytes",
      "content-range": `bytes ${start}-${end}/${bytes.byteLength}`,
      "content-length": String(slice.byteLength),
    },
  });
}

/**
 * /ok/<id>                        answers 200
 * /fail/<n>/<status>/<id>         answers <status> to the first n attempts, then 200
 * /status/<code>/<id>             always answers <code>
 * /retry-after/<sec>/<id>         answers 429 with Retry-After once, then 200
 */
async function hook(request: Request, url: URL): Promise<Response> {
  const list = deliveries.get(url.pathname) ?? [];
  list.push({ at: Date.now(), headers: Object.fromEntries(request.headers), body: await request.text() });
  deliveries.set(url.pathname, list);
  const n = list.length;
  const parts = url.pathname.split("/").filter(Boolean);
  switch (parts[0]) {
    case "fail":
      return new Response("receiver error", { status: n <= Number(parts[1]) ? Number(parts[2]) : 200 });
    case "status":
      return new Response("receiver says", { status: Number(parts[1]) });
    case "hang-first":
      // Holds the first n deliveries past the sender's timeout, then answers.
      if (n <= Number(parts[1])) await new Promise((r) => setTimeout(r, Number(parts[2])));
      return new Response("ok");
    case "retry-after":
      return n === 1 ? new Response("slow down", { status: 429, headers: { "retry-after": parts[1]! } }) : new Response("ok");
    default:
      return new Response("ok");
  }
}

function control(url: URL): Response {
  if (url.pathname === "/deliveries") return Response.json(deliveries.get(url.searchParams.get("path") ?? "") ?? []);
  if (url.pathname === "/hits") return Response.json({ count: hits.get(url.searchParams.get("key") ?? "") ?? 0 });
  return new Response("no such control", { status: 404 });
}

async function report(request: Request): Promise<Response> {
  const { recordRow } = await import("./reliability-report.ts");
  recordRow((await request.json()) as Parameters<typeof recordRow>[0]);
  return new Response(null, { status: 204 });
}
