import { ApiError } from "./errors.ts";
import { safeFetch, type SafeFetchOptions } from "./safe-fetch.ts";

/** What the edge learns about a recording before accepting a job for it. */
export interface MediaInfo {
  size_bytes: number;
  content_type: string | null;
  etag: string | null;
  last_modified: string | null;
}

/** Content types that are certainly not a recording: an error page, an API answer. */
const NOT_MEDIA = /^(text\/html|application\/xhtml\+xml|application\/(.+\+)?json|text\/json|application\/(.+\+)?xml|text\/xml)\b/i;

/**
 * HEAD, then `Range: bytes=0-0`, which must answer 206 with the total size:
 * machines later read only the byte ranges they need, so a server that cannot
 * serve ranges cannot be transcribed piecewise.
 */
export async function checkMedia(audioUrl: string, opts: SafeFetchOptions): Promise<MediaInfo> {
  const head = await fetchOrThrow(audioUrl, { method: "HEAD" }, opts);
  // Some servers refuse HEAD outright; the range request below still decides.
  const headRefused = head.status === 405 || head.status === 501;
  if (!head.ok && !headRefused) throw unreachable(head.status, audioUrl);
  if (!headRefused) rejectNonMedia(head.headers, audioUrl);
  if (head.headers.get("content-length") === "0") throw empty(audioUrl);

  const probe = await fetchOrThrow(audioUrl, { method: "GET", headers: { range: "bytes=0-0" } }, opts);
  try {
    if (probe.status === 416) {
      if (/\*\/0$/.test(probe.headers.get("content-range") ?? "")) throw empty(audioUrl);
      throw rangeUnsupported(audioUrl, "answered 416 to a request for its first byte");
    }
    if (probe.status === 200 && probe.headers.get("content-length") === "0") throw empty(audioUrl);
    if (probe.status === 200) throw rangeUnsupported(audioUrl, "answered 200 with the whole file instead of 206");
    if (probe.status !== 206) throw unreachable(probe.status, audioUrl);
    rejectNonMedia(probe.headers, audioUrl);
    const total = /^bytes\s+\d+-\d+\/(\d+)$/i.exec(probe.headers.get("content-range")?.trim() ?? "");
    if (!total?.[1]) throw rangeUnsupported(audioUrl, "answered 206 without a Content-Range total");
    const size = Number(total[1]);
    if (size === 0) throw empty(audioUrl);
    return {
      size_bytes: size,
      content_type: probe.headers.get("content-type") ?? head.headers.get("content-type"),
      etag: probe.headers.get("etag") ?? head.headers.get("etag"),
      last_modified: probe.headers.get("last-modified") ?? head.headers.get("last-modified"),
    };
  } finally {
    // Never download a body we do not need: a server that ignored the range
    // would otherwise stream the whole recording to us.
    await probe.body?.cancel().catch(() => undefined);
  }
}

async function fetchOrThrow(url: string, init: RequestInit, opts: SafeFetchOptions): Promise<Response> {
  const result = await safeFetch(url, init, opts);
  if (result.ok) return result.response;
  throw new ApiError(result.code === "invalid_url" ? 400 : 422, result.code, result.message, "audio_url");
}

function rejectNonMedia(headers: Headers, url: string): void {
  const type = headers.get("content-type");
  if (type && NOT_MEDIA.test(type)) {
    throw new ApiError(422, "not_media", `${url} is served as ${type.split(";")[0]}, not as audio or video`, "audio_url");
  }
}

function unreachable(status: number, url: string): ApiError {
  return new ApiError(422, "media_unreachable", `the media server answered HTTP ${status} for ${url}`, "audio_url");
}

function rangeUnsupported(url: string, what: string): ApiError {
  return new ApiError(422, "range_not_supported", `${url} ${what}; the server must support HTTP range requests (Accept-Ranges: bytes)`, "audio_url");
}

function empty(url: string): ApiError {
  return new ApiError(422, "empty_media", `${url} is empty (0 bytes)`, "audio_url");
}
