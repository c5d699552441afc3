import { lookup, type LookupAddress } from "node:dns";
import { Agent, fetch as undiciFetch } from "undici";
import { classifyHost } from "../../edge/url-safety.ts";
import { MediaError, redactUrl } from "./errors.ts";

/**
 * The edge checks a media URL's host, but it cannot see DNS answers, and a
 * machine sits inside a private network (Fly's 6PN, a cloud VPC, the metadata
 * endpoint). So the machine refuses, at connect time, every address that is not
 * public: a name that resolves to 10.x, a redirect to 169.254.169.254. Checking
 * the resolved address where the socket is opened leaves no gap for a name that
 * answers differently the second time (DNS rebinding).
 */

const NOT_PUBLIC = "ENOTPUBLIC";
const MAX_REDIRECTS = 5;

function literal(address: string, family: number): string {
  return family === 6 ? `[${address}]` : address;
}

/** The resolved addresses of `hostname` if all are public, else the error a connect fails with. */
export function publicAddresses(hostname: string, addresses: readonly LookupAddress[]): Error | null {
  const bad = addresses.find((a) => classifyHost(literal(a.address, a.family)) !== "public");
  return bad ? Object.assign(new Error(`${hostname} resolves to ${bad.address}, which is not a public address`), { code: NOT_PUBLIC }) : null;
}

const publicOnly = new Agent({
  connect: {
    lookup(hostname, options, callback) {
      lookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) return callback(error, [] as never);
        const refused = publicAddresses(hostname, addresses);
        if (refused) return callback(refused, [] as never);
        if ((options as { all?: boolean }).all) return callback(null, addresses as never);
        const first = addresses[0]!;
        callback(null, first.address as never, first.family);
      });
    },
  },
});

type Fetcher = (url: URL, init: { headers: Record<string, string>; signal: AbortSignal; redirect: "manual" }) => Promise<Response>;
const publicFetch: Fetcher = async (url, init) => (await undiciFetch(url, { ...init, dispatcher: publicOnly })) as unknown as Response;

function refuse(url: string, why: string): MediaError {
  return new MediaError("url_not_allowed", `${redactUrl(url)}: ${why}; media must be on a public address.`);
}

function checkLiteral(url: URL): void {
  const kind = classifyHost(url.hostname);
  // Names are checked once resolved; literals and well-known names here.
  if (kind !== "public") throw refuse(url.href, kind === "internal-name" ? "the host is a name only a private network resolves" : `the host is ${kind}`);
}

/**
 * fetch for media URLs: with `allowPrivate` (local mode, tests) the plain global
 * fetch; otherwise every hop of a redirect chain is checked and connections go
 * only to public addresses.
 */
export async function mediaFetch(
  url: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
  allowPrivate: boolean,
  fetchHop: Fetcher = publicFetch,
): Promise<Response> {
  if (allowPrivate) return fetch(url, init);
  let current = new URL(url);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (current.protocol !== "http:" && current.protocol !== "https:") throw refuse(url, `a redirect led to ${current.protocol}`);
    checkLiteral(current);
    let res: Response;
    try {
      res = await fetchHop(current, { ...init, redirect: "manual" });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === NOT_PUBLIC) throw refuse(url, cause.message ?? "not a public address");
      throw error;
    }
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || location === null) return res;
    await res.body?.cancel();
    current = new URL(location, current);
  }
  throw new MediaError("media_unreachable", `${redactUrl(url)} redirected more than ${MAX_REDIRECTS} times.`);
}
