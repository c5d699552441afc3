import { checkUrl, type UrlPolicy } from "./url-safety.ts";

export type SafeFetchResult =
  | { ok: true; response: Response; url: URL }
  | { ok: false; code: "invalid_url" | "url_not_allowed" | "media_unreachable"; message: string };

export interface SafeFetchOptions extends UrlPolicy {
  timeoutMs: number;
  maxRedirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * fetch that follows redirects itself, so that every hop is checked against
 * the URL policy: a public URL must not be able to redirect the service into
 * a private network.
 */
export async function safeFetch(raw: string, init: RequestInit, opts: SafeFetchOptions): Promise<SafeFetchResult> {
  let current = raw;
  for (let hop = 0; hop <= opts.maxRedirects; hop++) {
    const verdict = checkUrl(current, opts);
    if (!verdict.ok) {
      const via = hop > 0 ? ` (reached by redirect from ${raw})` : "";
      return { ok: false, code: verdict.code, message: `${verdict.message}${via}` };
    }
    let response: Response;
    try {
      response = await fetch(verdict.url, { ...init, redirect: "manual", signal: AbortSignal.timeout(opts.timeoutMs) });
    } catch (error) {
      const why = error instanceof Error && error.name === "TimeoutError" ? `no answer within ${opts.timeoutMs / 1000} s` : String(error);
      return { ok: false, code: "media_unreachable", message: `could not fetch ${verdict.url.href}: ${why}` };
    }
    const location = response.headers.get("location");
    if (!REDIRECTS.has(response.status) || location === null) return { ok: true, response, url: verdict.url };
    await response.body?.cancel();
    current = new URL(location, verdict.url).href;
  }
  return { ok: false, code: "media_unreachable", message: `more than ${opts.maxRedirects} redirects starting at ${raw}` };
}
