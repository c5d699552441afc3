/**
 * Webhook signatures in the Standard Webhooks scheme (the one Svix and others
 * use), so receivers can verify with an off-the-shelf library:
 *   webhook-signature: v1,<base64 HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)>
 * Each API key has its own secret `whsec_<base64>`, derived from the
 * WEBHOOK_SIGNING_KEY master so that nothing per key needs storing; it is shown
 * once, when the key is made (`npm run keys -- new`).
 */

import { fromBase64, toBase64 } from "./base64.ts";

const SECRET_PREFIX = "whsec_";

export async function deriveWebhookSecret(masterKey: string, keyId: string): Promise<string> {
  const raw = await hmac(Uint8Array.from(new TextEncoder().encode(masterKey)), `longscribe webhook secret v1:${keyId}`);
  return SECRET_PREFIX + toBase64(raw.slice(0, 24));
}

export async function signWebhook(secret: string, id: string, timestampSec: number, body: string): Promise<string> {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error("webhook secret must start with whsec_");
  const key = fromBase64(secret.slice(SECRET_PREFIX.length));
  return `v1,${toBase64(await hmac(key, `${id}.${timestampSec}.${body}`))}`;
}

async function hmac(key: Uint8Array<ArrayBuffer>, message: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(message)));
}
