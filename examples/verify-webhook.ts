import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * How a receiver checks a longscribe webhook (Standard Webhooks scheme).
 * `body` must be the raw request body, exactly as received.
 */
export function verifyWebhook(secret: string, headers: Record<string, string | undefined>, body: string, toleranceSec = 300): boolean {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures || !secret.startsWith("whsec_")) return false;
  // Refuse old or future-dated deliveries, so a captured request cannot be replayed later.
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSec) return false;
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  const expected = Buffer.from(createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64"));
  return signatures.split(" ").some((entry) => {
    const [version, signature = ""] = entry.split(",");
    const given = Buffer.from(signature);
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}
