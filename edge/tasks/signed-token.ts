/**
 * Tokens the edge signs and only the edge can check: `<version>.<payload>.<mac>`,
 * the payload a JSON array, the MAC HMAC-SHA256 under a key derived from the
 * edge-only master secret (WEBHOOK_SIGNING_KEY) and a purpose label, so a token
 * of one kind never passes for another (task tokens, machine credentials).
 */
const encoder = new TextEncoder();

async function purposeKey(edgeSecret: string, purpose: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(edgeSecret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const derived = await crypto.subtle.sign("HMAC", base, encoder.encode(purpose));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    // A length base64 cannot have (`tt1.A.B`): a garbled token, not a server error.
    return null;
  }
}

export interface TokenKind {
  /** The token's first field: `tt1`, `mc1`. */
  version: string;
  /** What the key is derived for; never shared between kinds. */
  purpose: string;
}

export async function signToken(edgeSecret: string, kind: TokenKind, fields: readonly unknown[]): Promise<string> {
  const payload = encoder.encode(JSON.stringify(fields));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await purposeKey(edgeSecret, kind.purpose), payload));
  return `${kind.version}.${base64url(payload)}.${base64url(mac)}`;
}

/** The fields of a genuine token of this kind, or null for anything forged, altered or malformed. */
export async function openToken(edgeSecret: string, kind: TokenKind, token: string): Promise<unknown[] | null> {
  const [version, body, sig, extra] = token.split(".");
  if (version !== kind.version || !body || !sig || extra !== undefined) return null;
  const payload = fromBase64url(body);
  const mac = fromBase64url(sig);
  if (!payload || !mac) return null;
  if (!(await crypto.subtle.verify("HMAC", await purposeKey(edgeSecret, kind.purpose), mac, payload))) return null;
  const parsed: unknown = JSON.parse(new TextDecoder().decode(payload));
  return Array.isArray(parsed) ? parsed : null;
}
