import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Serves one local file on 127.0.0.1 with byte ranges, so a file on disk goes
 * through the same range-reading pipeline as a URL (the CLI's `transcribe FILE`).
 */
export async function serveLocalFile(path: string): Promise<{ url: string; close: () => Promise<void> }> {
  const size = statSync(path).size;
  const server = createServer((req, res) => {
    const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (!match) {
      res.writeHead(200, { "content-length": size, "accept-ranges": "bytes" });
      if (req.method === "HEAD") return res.end();
      return createReadStream(path).pipe(res);
    }
    const start = Number(match[1]);
    const end = Math.min(match[2] ? Number(match[2]) : size - 1, size - 1);
    if (start >= size || end < start) {
      res.writeHead(416, { "content-range": `bytes */${size}` });
      return res.end();
    }
    res.writeHead(206, { "content-range": `bytes ${start}-${end}/${size}`, "content-length": end - start + 1, "accept-ranges": "bytes" });
    if (req.method === "HEAD") return res.end();
    createReadStream(path, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${encodeURIComponent(path.split("/").pop() ?? "media")}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
