import type { JobErrorCode } from "../../shared/error-codes.ts";

/**
 * The media pipeline's one error class. `retryable` tells the caller whether trying
 * the same work again later can help (an origin hiccup) or not (the file is not audio),
 * so a lease can be given back instead of failing a job for a transient fault.
 */
export type MediaErrorCode = Extract<
  JobErrorCode,
  | "ffmpeg_missing"
  | "media_unreachable"
  | "media_gone"
  | "range_not_supported"
  | "empty_media"
  | "not_media"
  | "origin_failed"
  | "decode_failed"
  | "invalid_range"
  | "media_changed"
  | "media_too_long"
  | "url_not_allowed"
>;

const RETRYABLE: Record<MediaErrorCode, boolean> = {
  ffmpeg_missing: false,
  media_unreachable: false,
  media_gone: false,
  range_not_supported: false,
  empty_media: false,
  not_media: false,
  origin_failed: true,
  decode_failed: false,
  invalid_range: false,
  // Another version of the file cannot be mixed with what was planned and transcribed.
  media_changed: false,
  media_too_long: false,
  url_not_allowed: false,
};

export class MediaError extends Error {
  override readonly name = "MediaError";
  readonly retryable: boolean;
  constructor(
    readonly code: MediaErrorCode,
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options?.retryable ?? RETRYABLE[code];
  }
}

/**
 * A media URL as it may appear in errors and logs: presigned URLs carry their
 * credentials in the query string, so that part is never printed.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "(invalid URL)";
  }
}
