import { createReadStream, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname } from "node:path";
import { parseByteRange } from "../../shared/byte-range.ts";

/**
 * A media origin on 127.0.0.1 that serves files with HTTP Range support and counts
 * every byte it sends, so tests can prove how much of a recording a machine read.
 * Per-path faults imitate the origins users really point us at.
 */
export type Fault =
  /** Answers 200 with the whole body to every request, Range or not. */
  | { kind: "ignore_range" }
  /** The n-th GET (1-based) and the ones after it, up to `times`, answer `status`. */
  | { kind: "status"; status: number; fromRequest: number; times: number }
  /** The n-th GET sends `afterBytes` bytes of its body, then the socket is destroyed. */
  | { kind: "drop"; fromRequest: number; afterBytes: number; times: number }
  /** The n-th GET and the ones after it, up to `times`, wait `ms` before answering. */
  | { kind: "stall"; fromRequest: number; ms: number; times: number }
  /** From the n-th GET on, another file is served at this path (with its own ETag and size). */
  | { kind: "replace"; fromRequest: number; file: string };

export interface ServedFile {
  /** Path on disk. */
  file: string;
  contentType?: string;
  fault?: Fault;
}

export interface RequestLog {
  path: string;
  method: string;
  range: string | null;
  status: number;
  bytesSent: number;
}

export interface MediaServer {
  url(path: string): string;
  /** Body bytes sent for one path (all requests), or for all paths. */
  bytesSent(path?: string): number;
  requests(path?: string): RequestLog[];
  reset(): void;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".mp3": "audio/mpeg",
  ".m4a": "audio/mp4",
  ".mp4": "video/mp4",
  ".ogg": "audio/ogg",
  ".opus": "audio/ogg",
  ".flac": "audio/flac",
  ".wav": "audio/wav",
  ".webm": "video/webm",
  ".txt": "text/plain",
};

export async function startMediaServer(files: Record<string, ServedFile>): Promise<MediaServer> {
  const log: RequestLog[] = [];
  const getCounts = new Map<string, number>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const served = files[path];
    const entry: RequestLog = { path, method: req.method ?? "GET", range: req.headers.range ?? null, status: 0, bytesSent: 0 };
    log.push(entry);
    const finish = (status: number, headers: Record<string, string | number>, body?: { start: number; end: number }) => {
      entry.status = status;
      res.writeHead(status, headers);
      if (!body || req.method === "HEAD" || body.end < body.start) return void res.end();
      const stream = createReadStream(file, { start: body.start, end: body.end });
      let limit = Number.POSITIVE_INFINITY;
      const n = getCounts.get(path) ?? 0;
      const f = served?.fault;
      if (f?.kind === "drop" && n >= f.fromRequest && n < f.fromRequest + f.times) limit = f.afterBytes;
      stream.on("data", (chunk: Buffer | string) => {
        const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        const room = limit - entry.bytesSent;
        const part = room < buf.length ? buf.subarray(0, Math.max(0, room)) : buf;
        entry.bytesSent += part.length;
        if (part.length > 0 && !res.write(part)) {
          stream.pause();
          res.once("drain", () => stream.resume());
        }
        if (entry.bytesSent >= limit) {
          stream.destroy();
          res.destroy();
        }
      });
      stream.on("end", () => res.end());
      stream.on("error", () => res.destroy());
      res.on("close", () => stream.destroy());
    };

    if (!served) return finish(404, { "content-type": "text/plain", "content-length": 0 });
    if (req.method === "GET") getCounts.set(path, (getCounts.get(path) ?? 0) + 1);
    const n = getCounts.get(path) ?? 0;
    const fault = served.fault;
    const file = fault?.kind === "replace" && n >= fault.fromRequest ? fault.file : served.file;
    const stat = statSync(file);
    const size = stat.size;
    const type = served.contentType ?? TYPES[extname(served.file)] ?? "application/octet-stream";
    // Validators as real origins send them, so a changed file is visible.
    const validators = { etag: `"${size.toString(16)}-${Math.round(stat.mtimeMs).toString(16)}"`, "last-modified": stat.mtime.toUTCString() };
    if (fault?.kind === "stall" && req.method === "GET" && n >= fault.fromRequest && n < fault.fromRequest + fault.times) {
      const timer = setTimeout(() => respond(), fault.ms);
      res.on("close", () => clearTimeout(timer));
      return;
    }
    respond();

    function respond(): void {
      if (fault?.kind === "status" && req.method === "GET" && n >= fault.fromRequest && n < fault.fromRequest + fault.times) {
        return finish(fault.status, { "content-type": "text/plain", "content-length": 0 });
      }
      const range = parseByteRange(req.headers.range, size);
      if (fault?.kind === "ignore_range" || range === null) {
        return finish(
          200,
          { "content-type": type, "content-length": size, ...validators, ...(fault?.kind === "ignore_range" ? {} : { "accept-ranges": "bytes" }) },
          { start: 0, end: size - 1 },
        );
      }
      if (range === "unsatisfiable") return finish(416, { "content-range": `bytes */${size}`, "content-length": 0 });
      return finish(
        206,
        {
          "content-type": type,
          "content-length": range.end - range.start + 1,
          "content-range": `bytes ${range.start}-${range.end}/${size}`,
          "accept-ranges": "bytes",
          ...validators,
        },
        range,
      );
    }
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    bytesSent: (path) => log.filter((r) => path === undefined || r.path === path).reduce((s, r) => s + r.bytesSent, 0),
    requests: (path) => log.filter((r) => path === undefined || r.path === path),
    reset: () => {
      log.length = 0;
      getCounts.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
