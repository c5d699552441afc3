import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { MediaError } from "./errors.ts";
import type { OriginReader } from "./origin-reader.ts";

/**
 * A loopback HTTP server that stands between ffmpeg and the origin.
 *
 * Why: ffmpeg asks origins for open-ended ranges (`bytes=N-`) and the origin then
 * pushes as much as the TCP buffers take (measured here: ~4 MB beyond what ffmpeg
 * had decoded when it stopped, on every seek). We instead answer each request with
 * a short 206 and ffmpeg (run with `-reconnect 1`) asks again where it left off, so
 * the origin only ever sends bounded ranges that we requested and counted.
 * Chunks start small after a seek (formats that bisect, like Ogg, read a little at
 * many places) and double while ffmpeg reads sequentially, up to a cap the caller
 * sets from the bitrate (about 30 s of audio), which bounds the overshoot at the
 * end of a range to a tenth of a 300 s range whatever the bitrate.
 */
export interface ProxyOptions {
  minChunkBytes?: number;
  maxChunkBytes?: number;
}

interface Entry {
  reader: OriginReader;
  context: string;
  nextSequential: number;
  chunk: number;
  maxChunk: number;
  error: MediaError | null;
  failed: AbortController;
  /** Origin reads under way, so a caller can wait for their bytes to be counted. */
  inflight: Set<Promise<unknown>>;
  served: number;
  budget: { bytes: number; error: () => MediaError } | null;
}

export class RangeProxy {
  private readonly entries = new Map<string, Entry>();
  private readonly minChunk: number;
  private readonly maxChunk: number;

  private constructor(
    private readonly server: Server,
    private readonly port: number,
    options: ProxyOptions,
  ) {
    this.minChunk = options.minChunkBytes ?? 16 * 1024;
    this.maxChunk = options.maxChunkBytes ?? 8 * 1024 * 1024;
  }

  static async start(options: ProxyOptions = {}): Promise<RangeProxy> {
    let proxy: RangeProxy | undefined;
    const server = createServer((req, res) => void proxy!.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    proxy = new RangeProxy(server, (server.address() as AddressInfo).port, options);
    return proxy;
  }

  /**
   * A local URL for ffmpeg. The file name is kept so ffmpeg's format guess by
   * extension (raw AAC, Opus) still works; `context` names the work in errors.
   */
  register(
    reader: OriginReader,
    context: string,
    maxChunkBytes = this.maxChunk,
    /** Bytes this handle may read in all; past them the work is called off with `overBudget`. */
    budget: { bytes: number; error: () => MediaError } | null = null,
  ): { url: string; error: () => MediaError | null; failed: AbortSignal; release: () => Promise<void> } {
    const token = randomBytes(9).toString("base64url");
    const maxChunk = Math.max(this.minChunk, Math.min(this.maxChunk, maxChunkBytes));
    const entry: Entry = {
      reader,
      context,
      nextSequential: -1,
      chunk: this.minChunk,
      maxChunk,
      error: null,
      failed: new AbortController(),
      inflight: new Set(),
      served: 0,
      budget,
    };
    this.entries.set(token, entry);
    const name = fileNameOf(reader.url);
    return {
      url: `http://127.0.0.1:${this.port}/${token}/${name}`,
      error: () => entry.error,
      failed: entry.failed.signal,
      // ffmpeg may be killed with a read still on its way; once it lands, the stats are final.
      release: async () => {
        this.entries.delete(token);
        await Promise.allSettled(entry.inflight);
      },
    };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = (req.url ?? "").split("/")[1] ?? "";
    const entry = this.entries.get(token);
    if (!entry) return void res.writeHead(404).end();
    const size = entry.reader.size;
    const type = entry.reader.contentType ?? "application/octet-stream";
    if (req.method === "HEAD") {
      return void res.writeHead(200, { "content-length": size, "accept-ranges": "bytes", "content-type": type }).end();
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "bytes=0-");
    if (!m) return void res.writeHead(400).end();
    const start = Number(m[1]);
    const wantedEnd = m[2] ? Number(m[2]) : size - 1;
    if (start >= size) return void res.writeHead(416, { "content-range": `bytes */${size}` }).end();
    entry.chunk = start === entry.nextSequential ? Math.min(entry.maxChunk, entry.chunk * 2) : this.minChunk;
    const end = Math.min(size - 1, wantedEnd, start + entry.chunk - 1);
    let body: Uint8Array;
    const reading = entry.reader.read(start, end, entry.context);
    entry.inflight.add(reading);
    try {
      body = await reading;
    } catch (error) {
      entry.error = error instanceof MediaError ? error : new MediaError("origin_failed", String(error), { cause: error });
      // ffmpeg would retry a 502 on its own schedule (minutes); the reader already retried.
      entry.failed.abort(entry.error);
      return void res.writeHead(502).end();
    } finally {
      entry.inflight.delete(reading);
    }
    entry.nextSequential = start + body.length;
    entry.served += body.length;
    if (entry.budget && entry.served > entry.budget.bytes) {
      entry.error = entry.budget.error();
      entry.failed.abort(entry.error);
      return void res.writeHead(502).end();
    }
    res.writeHead(206, {
      "content-type": type,
      "content-length": body.length,
      "content-range": `bytes ${start}-${start + body.length - 1}/${size}`,
      "accept-ranges": "bytes",
    });
    res.end(body);
  }
}

function fileNameOf(url: string): string {
  try {
    const last = new URL(url).pathname.split("/").pop() ?? "";
    const safe = last.replace(/[^A-Za-z0-9._-]/g, "_").slice(-80);
    return safe || "media";
  } catch {
    return "media";
  }
}
