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
      if (hop === 0) return { ok: false, code: verdict.code, message: verdict.message };
      // The caller's URL was fine; the server sent us somewhere we will not go.
      return { ok: false, code: "url_not_allowed", message: `${verdict.message} (reached by redirect from ${raw})` };
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
    try {
      current = new URL(location, verdict.url).href;
    } catch {
      return { ok: false, code: "media_unreachable", message: `${verdict.url.href} redirected to an invalid Location: ${location.slice(0, 200)}` };
    }
  }
  return { ok: false, code: "media_unreachable", message: `more than ${opts.maxRedirects} redirects starting at ${raw}` };
}
