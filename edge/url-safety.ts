/**
 * Which URLs the service may fetch (media) or post to (webhooks). A user's URL
 * must not turn the service into a proxy into private networks or cloud
 * metadata endpoints (SSRF), so every URL, and every redirect target, is
 * checked here. Pure: no I/O, no DNS.
 */

export type UrlVerdict = { ok: true; url: URL } | { ok: false; code: "invalid_url" | "url_not_allowed"; message: string };

export interface UrlPolicy {
  /** Local mode and tests: loopback (127.0.0.0/8, ::1, localhost) is allowed. */
  allowLoopback: boolean;
}

export function checkUrl(raw: string, policy: UrlPolicy): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, code: "invalid_url", message: `not a valid absolute URL: ${preview(raw)}` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, code: "invalid_url", message: `only http and https URLs are accepted, not ${url.protocol}` };
  }
  if (url.username || url.password) {
    return { ok: false, code: "invalid_url", message: "credentials in the URL are not accepted; use a signed URL instead" };
  }
  const kind = classifyHost(url.hostname);
  if (kind === "public") return { ok: true, url };
  if (kind === "loopback" && policy.allowLoopback) return { ok: true, url };
  return { ok: false, code: "url_not_allowed", message: `${url.host} is a ${kind} address; only public internet addresses are allowed` };
}

/**
 * A webhook URL: the same rules, and https outside local mode, since events
 * carry the job and its metadata and would otherwise cross the internet in clear.
 */
export function checkWebhookUrl(raw: string, policy: UrlPolicy): UrlVerdict {
  const verdict = checkUrl(raw, policy);
  if (verdict.ok && verdict.url.protocol !== "https:" && !policy.allowLoopback) {
    return { ok: false, code: "invalid_url", message: "webhooks are sent only to https URLs" };
  }
  return verdict;
}

export type HostKind = "public" | "loopback" | "private" | "link-local" | "reserved" | "multicast" | "metadata" | "internal-name";

/** `hostname` as WHATWG URL gives it: IPv4 already normalised from hex/octal/integer forms, IPv6 in brackets. */
export function classifyHost(hostname: string): HostKind {
  // WHATWG leaves `localhost..` and `127.0.0.1..` as names; every trailing dot goes.
  const host = hostname.toLowerCase().replace(/\.+$/, "");
  if (host.startsWith("[")) {
    const groups = parseIpv6(host.slice(1, -1));
    return groups ? classifyIpv6(groups) : "reserved";
  }
  const v4 = parseIpv4(host);
  if (v4 !== null) return classifyIpv4(v4);
  return classifyName(host);
}

const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.azure.com",
  "metadata.oraclecloud.com",
]);
const INTERNAL_SUFFIXES = [".internal", ".local", ".localdomain", ".home.arpa", ".lan", ".intranet", ".corp", ".private"];

function classifyName(host: string): HostKind {
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback";
  if (METADATA_NAMES.has(host)) return "metadata";
  // A single label cannot be resolved on the public internet: it would only
  // reach something through a private search domain.
  if (!host.includes(".")) return "internal-name";
  if (INTERNAL_SUFFIXES.some((s) => host.endsWith(s))) return "internal-name";
  return "public";
}

function parseIpv4(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** [network, prefix length, kind] for IPv4 space that is not the public internet. */
const V4_RANGES: ReadonlyArray<readonly [string, number, HostKind]> = [
  ["0.0.0.0", 8, "reserved"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private"], // carrier-grade NAT
  ["127.0.0.0", 8, "loopback"],
  ["169.254.169.254", 32, "metadata"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "reserved"],
  ["192.88.99.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"],
  ["198.51.100.0", 24, "reserved"],
  ["203.0.113.0", 24, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

function classifyIpv4(ip: number): HostKind {
  for (const [net, bits, kind] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((ip & mask) >>> 0 === (parseIpv4(net)! & mask) >>> 0) return kind;
  }
  return "public";
}

/** Eight 16-bit groups, or null. Accepts `::` compression and a dotted IPv4 tail. */
export function parseIpv6(text: string): number[] | null {
  let s = text.split("%")[0] ?? "";
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (tail) {
    const v4 = parseIpv4(tail[1]!);
    if (v4 === null) return null;
    s = `${s.slice(0, -tail[1]!.length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0] ?? "");
  const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? head.length !== 8 : missing < 1) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest];
  return groups.some(Number.isNaN) ? null : groups;
}

function classifyIpv6(g: number[]): HostKind {
  const [a = 0, b = 0] = g;
  const zeroUntil = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUntil(8)) return "reserved"; // ::
  if (zeroUntil(7) && g[7] === 1) return "loopback"; // ::1
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d)
  // and NAT64 (64:ff9b::/96) embed an IPv4 address.
  const embedsV4 =
    (zeroUntil(5) && (g[5] === 0xffff || g[5] === 0)) ||
    (zeroUntil(4) && g[4] === 0xffff && g[5] === 0) ||
    (a === 0x64 && b === 0xff9b && g.slice(2, 6).every((x) => x === 0));
  if (embedsV4) return classifyIpv4((((g[6] ?? 0) << 16) | (g[7] ?? 0)) >>> 0);
  if (a === 0x64 && b === 0xff9b && g[2] === 1) return "private"; // local-use NAT64 64:ff9b:1::/48 (RFC 8215)
  if ((a & 0xfe00) === 0xfc00) return "private"; // fc00::/7 unique local (AWS metadata fd00:ec2::254 too)
  if ((a & 0xffc0) === 0xfe80) return "link-local";
  if ((a & 0xffc0) === 0xfec0) return "private"; // deprecated site-local
  if ((a & 0xff00) === 0xff00) return "multicast";
  if (a === 0x2001 && b === 0x0db8) return "reserved"; // documentation
  if (a === 0x0100 && g.slice(1, 4).every((x) => x === 0)) return "reserved"; // discard-only 100::/64
  if (a === 0x2002) return classifyIpv4(((b << 16) | (g[2] ?? 0)) >>> 0); // 6to4 embeds the IPv4 address
  return "public";
}

function preview(raw: string): string {
  return raw.length > 80 ? `${raw.slice(0, 80)}…` : raw;
}
