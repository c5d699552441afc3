import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { deriveWebhookSecret, signWebhook } from "../shared/webhook-signing.ts";
import { verifyWebhook } from "../examples/verify-webhook.ts";

// The edge signs in workerd; here Node's crypto and the standardwebhooks
// library check the same bytes, as receivers will.
describe("webhook signatures across implementations", () => {
  it("verify with the README's receiver code and with standardwebhooks", async () => {
    const secret = await deriveWebhookSecret("m".repeat(40), "key_abc");
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const body = JSON.stringify({ id: "evt_1", type: "transcription.completed", created_at: "2026-11-23T00:00:00Z", data: { id: "tr_x" } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { "webhook-id": "evt_1", "webhook-timestamp": String(timestamp), "webhook-signature": await signWebhook(secret, "evt_1", timestamp, body) };
    expect(verifyWebhook(secret, headers, body)).toBe(true);
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({ id: "evt_1" });

    expect(verifyWebhook(secret, headers, body.replace("tr_x", "tr_y"))).toBe(false);
    expect(verifyWebhook(secret, { ...headers, "webhook-id": "evt_2" }, body)).toBe(false);
    expect(verifyWebhook(await deriveWebhookSecret("m".repeat(40), "key_other"), headers, body)).toBe(false);
    expect(verifyWebhook(await deriveWebhookSecret("n".repeat(40), "key_abc"), headers, body)).toBe(false);
    const stale = String(timestamp - 3600);
    expect(
      verifyWebhook(secret, { ...headers, "webhook-timestamp": stale, "webhook-signature": await signWebhook(secret, "evt_1", Number(stale), body) }, body),
    ).toBe(false);
  });

  it("derives a stable secret per key", async () => {
    const a = await deriveWebhookSecret("m".repeat(40), "key_abc");
    expect(await deriveWebhookSecret("m".repeat(40), "key_abc")).toBe(a);
    expect(await deriveWebhookSecret("m".repeat(40), "key_abd")).not.toBe(a);
  });
});
