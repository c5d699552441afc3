import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordRow } from "../../test/support/reliability-report.ts";
import { MediaError } from "./errors.ts";
import { OriginReader } from "./origin-reader.ts";

const SIZE = 1_000_000;
const file = Uint8Array.from({ length: SIZE }, (_, i) => i % 251);

/** Hostile and broken media servers, each behind its own path. */
function hostile(req: IncomingMessage, res: ServerResponse): void {
  const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? "");
  const [first, last] = m ? [Number(m[1]), Math.min(Number(m[2]), SIZE - 1)] : [0, SIZE - 1];
  switch (req.url) {
    case "/endless": {
      // Says "one byte", then streams 1 MB blocks until the client hangs up.
      res.writeHead(206, { "content-range": `bytes ${first}-${last}/${SIZE}`, "content-type": "audio/mpeg" });
      const block = new Uint8Array(1 << 20);
      const push = () => {
        while (!res.destroyed && res.write(block));
        if (!res.destroyed) res.once("drain", push);
      };
      push();
      return;
    }
    case "/misplaced":
      // Honest about the opening byte, then answers every later range with the file's start.
      if (first === 0 && last === 0) res.writeHead(206, { "content-range": `bytes 0-0/${SIZE}` }).end(Buffer.from(file.subarray(0, 1)));
      else res.writeHead(206, { "content-range": `bytes 0-${last - first}/${SIZE}` }).end(Buffer.from(file.subarray(0, last - first + 1)));
      return;
    case "/deleted-later":
      // An upload deleted while a job reads it: the opening byte, then 410 Gone.
      if (first === 0 && last === 0) res.writeHead(206, { "content-range": `bytes 0-0/${SIZE}` }).end(Buffer.from(file.subarray(0, 1)));
      else res.writeHead(410, { "content-type": "application/json" }).end('{"error":{"code":"upload_gone"}}');
      return;
    case "/wide-open":
      // Answers the one-byte opening request with a large range.
      res.writeHead(206, { "content-range": `bytes 0-65535/${SIZE}` }).end(Buffer.from(file.subarray(0, 65_536)));
      return;
    default:
      res.writeHead(206, { "content-range": `bytes ${first}-${last}/${SIZE}` }).end(Buffer.from(file.subarray(first, last + 1)));
  }
}

describe("a media server can only send a machine the range it asked for", () => {
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer(hostile);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const options = { retry: { attempts: 2, baseMs: 1, capMs: 1 }, timeoutMs: 10_000 };

  it("a 206 for one byte followed by an endless body is cut at the byte, not read into memory", async () => {
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    const error = await OriginReader.open(`${base}/endless`, options).catch((e: unknown) => e);
    const grownMb = (process.memoryUsage().rss - rss) / 2 ** 20;
    const sec = (performance.now() - started) / 1000;
    const code = error instanceof MediaError ? error.code : String(error);
    recordRow({
      suite: "hostile media servers",
      case: "206 for bytes 0-0, then an endless body",
      expected: "range_not_supported within 5 s, memory grows < 64 MB",
      observed: `${code} after ${sec.toFixed(2)} s, memory +${grownMb.toFixed(0)} MB`,
      pass: code === "range_not_supported" && sec < 5 && grownMb < 64,
    });
    expect(code).toBe("range_not_supported");
    expect((error as MediaError).message).toMatch(/sent more than the 1 bytes/);
    expect(sec).toBeLessThan(5);
    expect(grownMb).toBeLessThan(64);
  });

  it("a range answered with other bytes than asked is refused, never spliced into the audio", async () => {
    const reader = await OriginReader.open(`${base}/misplaced`, options);
    const error = await reader.read(500_000, 500_099).catch((e: unknown) => e);
    const code = error instanceof MediaError ? error.code : String(error);
    recordRow({
      suite: "hostile media servers",
      case: "bytes 500000-500099 answered as bytes 0-99",
      expected: "range_not_supported",
      observed: code,
      pass: code === "range_not_supported",
    });
    expect(code).toBe("range_not_supported");
    expect((error as MediaError).message).toContain("bytes 0-99/1000000");
  });

  it("a one-byte opening request answered with 64 KB is refused", async () => {
    const error = await OriginReader.open(`${base}/wide-open`, options).catch((e: unknown) => e);
    const code = error instanceof MediaError ? error.code : String(error);
    recordRow({
      suite: "hostile media servers",
      case: "bytes 0-0 answered as bytes 0-65535",
      expected: "range_not_supported",
      observed: code,
      pass: code === "range_not_supported",
    });
    expect(code).toBe("range_not_supported");
  });

  it("an honest server's ranges arrive whole and exact", async () => {
    const reader = await OriginReader.open(`${base}/honest`, options);
    expect(reader.size).toBe(SIZE);
    expect(Array.from(await reader.read(500_000, 500_009))).toEqual(Array.from(file.subarray(500_000, 500_010)));
    // The last range is clamped to the file, and the origin may end it there.
    expect((await reader.read(SIZE - 5, SIZE + 100)).length).toBe(5);
  });

  it("a file that is gone (410) mid-job fails the task for good as media_gone, not as an origin hiccup", async () => {
    const reader = await OriginReader.open(`${base}/deleted-later`, options);
    const error = await reader.read(1000, 2000).catch((e: unknown) => e);
    const observed = error instanceof MediaError ? `${error.code}, retryable ${error.retryable}` : String(error);
    recordRow({
      suite: "hostile media servers",
      case: "a file gone (HTTP 410) after the job started reading it (an upload deleted mid-job)",
      expected: "media_gone, retryable false",
      observed,
      pass: observed === "media_gone, retryable false",
    });
    expect(observed).toBe("media_gone, retryable false");
  });
});
