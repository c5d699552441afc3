import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaError } from "./errors.ts";
import { recordRow } from "../../test/support/reliability-report.ts";
import { mediaFetch, publicAddresses } from "./public-fetch.ts";

describe("media fetches from a machine reach only public addresses", () => {
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(206, { "content-range": "bytes 0-0/1" }).end("x");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const init = () => ({ headers: { range: "bytes=0-0" }, signal: AbortSignal.timeout(5000) });
  const refused = async (url: string) => {
    const error = await mediaFetch(url, init(), false).catch((e: unknown) => e);
    const code = error instanceof MediaError ? error.code : String(error);
    recordRow({
      suite: "bad input: URLs (machines)",
      case: `a machine asked for ${url.replace(/:\d+\//, ":PORT/")}`,
      expected: "url_not_allowed before connecting",
      observed: code,
      pass: code === "url_not_allowed",
    });
    expect(error).toBeInstanceOf(MediaError);
    expect((error as MediaError).code).toBe("url_not_allowed");
    return (error as MediaError).message;
  };

  it("refuses loopback, private and metadata literals and names that resolve to them", async () => {
    expect(await refused(`${base}/audio`)).toContain("loopback");
    expect(await refused("http://10.1.2.3/audio.mp3")).toContain("private");
    expect(await refused("http://[::ffff:169.254.169.254]/")).toMatch(/metadata|link-local/);
    // "localhost" resolves through DNS (or /etc/hosts) to a loopback address.
    expect(await refused(`http://localhost.:${new URL(base).port}/audio`)).toMatch(/loopback|not a public address/);
  });

  it("refuses a name whose DNS answer holds a private address (checked where the socket opens)", async () => {
    expect(publicAddresses("media.example", [{ address: "93.184.216.34", family: 4 }])).toBeNull();
    expect(
      publicAddresses("rebind.example", [
        { address: "93.184.216.34", family: 4 },
        { address: "10.0.0.5", family: 4 },
      ])?.message,
    ).toContain("10.0.0.5");
    expect(publicAddresses("v6.example", [{ address: "fd00::1", family: 6 }])?.message).toContain("not a public address");
    // End to end through the machine's real fetch (undici's lookup hook): a name, not a literal,
    // that DNS (here /etc/hosts) resolves to a loopback address.
    const rebound = await mediaFetch(`http://localhost.:${new URL(base).port}/audio`, init(), false).catch((e: unknown) => e);
    const code = rebound instanceof MediaError ? rebound.code : rebound instanceof Response ? `fetched (${rebound.status})` : String(rebound);
    recordRow({
      suite: "bad input: URLs (machines)",
      case: "a name that DNS resolves to a loopback address (rebinding), through the machine's fetch",
      expected: "url_not_allowed where the socket opens",
      observed: rebound instanceof MediaError ? `${code}: ${rebound.message.slice(0, 80)}` : code,
      pass: code === "url_not_allowed",
    });
    expect(code).toBe("url_not_allowed");
  });

  it("checks every redirect hop", async () => {
    const hops: string[] = [];
    const fake = async (url: URL) => {
      hops.push(url.href);
      return url.hostname === "cdn.example"
        ? new Response(null, { status: 302, headers: { location: "http://169.254.169.254/latest/meta-data/" } })
        : new Response("x", { status: 206 });
    };
    const error = await mediaFetch("https://cdn.example/a.mp3", init(), false, fake).catch((e: unknown) => e);
    expect((error as MediaError).code).toBe("url_not_allowed");
    expect(hops).toEqual(["https://cdn.example/a.mp3"]); // the metadata address was never fetched
    recordRow({
      suite: "bad input: URLs (machines)",
      case: "a public URL that redirects to cloud metadata",
      expected: "url_not_allowed, the metadata address never fetched",
      observed: `${(error as MediaError).code} after ${hops.length} hop`,
      pass: (error as MediaError).code === "url_not_allowed" && hops.length === 1,
    });
    const loop = async (url: URL) => new Response(null, { status: 302, headers: { location: `${url.href}x` } });
    expect(((await mediaFetch("https://cdn.example/a", init(), false, loop).catch((e: unknown) => e)) as MediaError).code).toBe("media_unreachable");
  });

  it("in local mode reaches 127.0.0.1 as before", async () => {
    const res = await mediaFetch(`${base}/audio`, init(), true);
    expect(res.status).toBe(206);
  });
});
