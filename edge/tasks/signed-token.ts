/**
 * Tokens the edge signs and only the edge can check: `<version>.<payload>.<mac>`,
 * the payload a JSON array, the MAC HMAC-SHA256 under a key derived from the
 * edge-only master secret (WEBHOOK_SIGNING_KEY) and a purpose label, so a token
 * of one kind never passes for another (task tokens, machine credentials).
 */
import { fromBase64Url, toBase64Url } from "../../shared/base64.ts";

const encoder = new TextEncoder();

async function purposeKey(edgeSecret: string, purpose: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(edgeSecret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const derived = await crypto.subtle.sign("HMAC", base, encoder.encode(purpose));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
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
  return `${kind.version}.${toBase64Url(payload)}.${toBase64Url(mac)}`;
}

/** The fields of a genuine token of this kind, or null for anything forged, altered or malformed. */
export async function openToken(edgeSecret: string, kind: TokenKind, token: string): Promise<unknown[] | null> {
  const [version, body, sig, extra] = token.split(".");
  if (version !== kind.version || !body || !sig || extra !== undefined) return null;
  const payload = fromBase64Url(body);
  const mac = fromBase64Url(sig);
  if (!payload || !mac) return null;
  if (!(await crypto.subtle.verify("HMAC", await purposeKey(edgeSecret, kind.purpose), mac, payload))) return null;
  const parsed: unknown = JSON.parse(new TextDecoder().decode(payload));
  return Array.isArray(parsed) ? parsed : null;
}
