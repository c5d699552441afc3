import { retry, type RetryOptions } from "../../shared/retry.ts";
import { MediaError, redactUrl } from "./errors.ts";
import { mediaFetch } from "./public-fetch.ts";

/**
 * Reads a media URL only by bounded byte ranges, with retries, and counts what
 * the origin sent. Every byte the pipeline pulls from a user's server passes
 * through here, so "bytes read from the origin" is exact and an origin that
 * ignores Range is caught before it streams a multi-gigabyte file at us.
 */
/** Which version of a file was read: a job must not mix two. */
export interface MediaVersion {
  size_bytes: number;
  etag: string | null;
  last_modified: string | null;
}

export interface OriginOptions {
  /** The version the plan read; a range task refuses another. */
  expect?: MediaVersion | null;
  retry?: Partial<Pick<RetryOptions, "attempts" | "baseMs" | "capMs" | "sleep">>;
  /** Per request; a stalled origin must not hold a lease forever. */
  timeoutMs?: number;
  /**
   * Loopback and private addresses allowed (local mode, the CLI on one's own files).
   * Machines serving the public API set it false (public-fetch.ts). Default true.
   */
  allowPrivate?: boolean;
}

export interface OriginStats {
  bytes: number;
  requests: number;
  retries: number;
}

const DEFAULT_RETRY = { attempts: 3, baseMs: 300, capMs: 3000 };

/** Answers that retrying cannot change: the URL's credentials or the file are gone. */
const FINAL_STATUSES = [401, 403, 410];

/** The file's size: the total after the slash in Content-Range (also in a 416 answer), or null. */
function totalSize(headers: Headers): number | null {
  const m = /\/(\d+)\s*$/.exec(headers.get("content-range") ?? "");
  return m ? Number(m[1]) : null;
}

/** The byte span a 206 answer says it carries (`bytes first-last/total`), or null. */
function answeredSpan(headers: Headers): { first: number; last: number } | null {
  const m = /^\s*bytes\s+(\d+)-(\d+)\//i.exec(headers.get("content-range") ?? "");
  return m ? { first: Number(m[1]), last: Number(m[2]) } : null;
}

/**
 * A response body read as a stream, refused the moment it exceeds `want`
 * bytes: a server that answers a small range and then streams gigabytes must
 * cost this machine (and every other tenant's task on it) no more than the
 * range asked for.
 */
async function cappedBody(res: Response, want: number, where: string): Promise<Uint8Array> {
  const out = new Uint8Array(want);
  let got = 0;
  const reader = res.body?.getReader();
  if (!reader) return out.subarray(0, 0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out.subarray(0, got);
    if (got + value.length > want) {
      await reader.cancel();
      throw new MediaError(
        "range_not_supported",
        `${where}: the origin sent more than the ${want} bytes of the range it answered; a server must send exactly the range it names.`,
      );
    }
    out.set(value, got);
    got += value.length;
  }
}

class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/**
 * Every ffmpeg run re-reads a file's header, its tail (Ogg, ID3v1) or an MP4's
 * index at the end, and planning starts one run per boundary; a small cache of
 * recent identical reads keeps those from being fetched again and again.
 */
const CACHE_BYTES = 4 * 1024 * 1024;

export class OriginReader {
  readonly stats: OriginStats = { bytes: 0, requests: 0, retries: 0 };
  private readonly cache = new Map<string, Uint8Array>();
  private cached = 0;
  private sizeBytes = Number.POSITIVE_INFINITY;
  private type: string | null = null;
  private etag: string | null = null;
  private lastModified: string | null = null;

  private constructor(
    readonly url: string,
    private readonly options: OriginOptions,
  ) {}

  /** Total bytes, from the Content-Range of the opening request. */
  get size(): number {
    return this.sizeBytes;
  }

  get contentType(): string | null {
    return this.type;
  }

  get version(): MediaVersion {
    return { size_bytes: this.sizeBytes, etag: this.etag, last_modified: this.lastModified };
  }

  /** Checks the origin answers a one-byte Range request with 206 and learns the size. */
  static async open(url: string, options: OriginOptions = {}): Promise<OriginReader> {
    const reader = new OriginReader(url, options);
    const res = await reader.request(0, 0, "open");
    const total = totalSize(res.headers);
    if (total === null) {
      throw new MediaError("range_not_supported", `${redactUrl(url)} answered 206 without a total size in Content-Range; cannot read it by ranges.`);
    }
    reader.sizeBytes = total;
    reader.type = res.headers.get("content-type");
    reader.etag = res.headers.get("etag");
    reader.lastModified = res.headers.get("last-modified");
    if (reader.size === 0) throw new MediaError("empty_media", `${redactUrl(url)} is empty (0 bytes).`);
    if (options.expect) reader.checkVersion(options.expect, reader.version, "since the job was planned");
    return reader;
  }

  /** Throws media_changed when `after` is another version of the file than `before`. */
  private checkVersion(before: MediaVersion, after: MediaVersion, when: string): void {
    const differs =
      before.size_bytes !== after.size_bytes
        ? `its size went from ${before.size_bytes} to ${after.size_bytes} bytes`
        : before.etag !== null && after.etag !== null && before.etag !== after.etag
          ? `its ETag went from ${before.etag} to ${after.etag}`
          : before.last_modified !== null && after.last_modified !== null && before.last_modified !== after.last_modified
            ? `its Last-Modified went from ${before.last_modified} to ${after.last_modified}`
            : null;
    if (differs) {
      throw new MediaError("media_changed", `${redactUrl(this.url)} changed ${when} (${differs}); submit the job again to transcribe the new version.`);
    }
  }

  /** Bytes [start, end] inclusive, clamped to the file. */
  async read(start: number, end: number, context = ""): Promise<Uint8Array> {
    const last = Math.min(end, this.size - 1);
    if (start > last) return new Uint8Array(0);
    const key = `${start}-${last}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const body = (await this.request(start, last, context)).body;
    if (body.length <= CACHE_BYTES / 4) {
      this.cache.set(key, body);
      this.cached += body.length;
      for (const [k, v] of this.cache) {
        if (this.cached <= CACHE_BYTES) break;
        this.cache.delete(k);
        this.cached -= v.length;
      }
    }
    return body;
  }

  private async request(start: number, end: number, context: string): Promise<{ body: Uint8Array; headers: Headers }> {
    const opts = { ...DEFAULT_RETRY, ...this.options.retry };
    const where = `${redactUrl(this.url)} bytes ${start}-${end}${context ? ` (${context})` : ""}`;
    try {
      return await retry(
        async (attempt) => {
          if (attempt > 1) this.stats.retries++;
          this.stats.requests++;
          const res = await mediaFetch(
            this.url,
            { headers: { range: `bytes=${start}-${end}`, "accept-encoding": "identity" }, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) },
            this.options.allowPrivate ?? true,
          );
          const answeredSize = totalSize(res.headers) ?? this.sizeBytes;
          if (context !== "open" && (res.status === 206 || res.status === 416)) {
            const answered = {
              size_bytes: answeredSize,
              etag: res.headers.get("etag"),
              last_modified: res.headers.get("last-modified"),
            };
            // Each answer must come from the version opened: a range of another file would splice two recordings.
            try {
              this.checkVersion(this.version, answered, "while it was being read");
            } catch (error) {
              await res.body?.cancel();
              throw error;
            }
          }
          if (res.status === 200) {
            await res.body?.cancel();
            throw new MediaError(
              "range_not_supported",
              `${redactUrl(this.url)} ignores Range requests (answered 200 with the whole file); serve it from a host that supports byte ranges.`,
            );
          }
          if (res.status === 416) {
            await res.body?.cancel();
            throw new MediaError(start === 0 ? "empty_media" : "invalid_range", `${where}: the origin says this range is past the end of the file (416).`);
          }
          if (res.status !== 206) {
            await res.body?.cancel();
            throw new HttpStatusError(res.status);
          }
          // The answer must be the range asked (an origin may end it early only at the end of the file):
          // a misplaced range spliced into the audio would transcribe the wrong words at the wrong times.
          const span = answeredSpan(res.headers);
          if (!span || span.first !== start || span.last !== Math.min(end, answeredSize - 1)) {
            await res.body?.cancel();
            throw new MediaError(
              "range_not_supported",
              `${where}: the origin answered ${res.headers.get("content-range") ?? "without Content-Range"}, not the range asked; serve the file from a host that answers byte ranges as asked.`,
            );
          }
          const want = span.last - span.first + 1;
          const body = await cappedBody(res, want, where);
          this.stats.bytes += body.length;
          // A connection cut mid-body arrives as a short body, not always as an error.
          if (body.length < want && start + body.length < this.size) throw new Error(`short body: ${body.length} of ${want} bytes`);
          return { body, headers: res.headers };
        },
        { ...opts, retryable: (e) => !(e instanceof MediaError) && !(e instanceof HttpStatusError && FINAL_STATUSES.includes(e.status)) },
      );
    } catch (error) {
      if (error instanceof MediaError) throw error;
      const detail = error instanceof HttpStatusError ? `HTTP ${error.status}` : error instanceof Error ? error.message : String(error);
      const gone = error instanceof HttpStatusError && (context === "open" ? error.status < 500 : FINAL_STATUSES.includes(error.status));
      if (error instanceof HttpStatusError && error.status === 410) {
        throw new MediaError("media_gone", `GET ${where} failed: HTTP 410: the file is gone (an upload deleted or expired while this job read it).`, {
          cause: error,
        });
      }
      if (gone) {
        throw new MediaError("media_unreachable", `GET ${where} failed: ${detail}.`, { cause: error });
      }
      throw new MediaError("origin_failed", `GET ${where} failed after ${opts.attempts} tries: ${detail}.`, { cause: error });
    }
  }
}
