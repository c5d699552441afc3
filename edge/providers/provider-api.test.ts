import { describe, expect, it } from "vitest";
import { ProviderApi, ProviderApiError } from "./provider-api.ts";

const SECRET = "machine-token-0123456789abcdef0123456789";

function api(answer: () => Response, sleeps: number[] = []) {
  return new ProviderApi({
    api: "runpod",
    baseUrl: "https://provider.test/",
    token: "api-key-0123456789",
    rates: { default: { perSec: 1, burst: 5 } },
    secrets: [SECRET],
    fetch: (async () => answer()) as typeof fetch,
    sleep: async (ms) => void sleeps.push(ms),
    now: () => 0,
    attempts: 3,
  });
}

describe("the providers' HTTP caller", () => {
  it("cuts secrets and its own key out of an error that echoes the request", async () => {
    const echo = () =>
      new Response(
        JSON.stringify({
          title: "Bad Request",
          status: 400,
          detail: `env.MACHINE_TOKEN=${SECRET} with key api-key-0123456789 is not allowed; env.MACHINE_CREDENTIAL=mc1.WyJydW5wb2QiLCJwb2QtMSJd.c2ln_-x is fine`,
        }),
        {
          status: 400,
          headers: { "content-type": "application/problem+json" },
        },
      );
    const error = (await api(echo)
      .call("pods", "POST", "/v2/pods", {})
      .catch((e: unknown) => e)) as ProviderApiError;
    expect(error).toBeInstanceOf(ProviderApiError);
    expect(error.status).toBe(400);
    expect(error.message).toContain("env.MACHINE_TOKEN=[redacted] with key [redacted] is not allowed; env.MACHINE_CREDENTIAL=[redacted] is fine");
    expect(`${error.message} ${error.detail}`).not.toContain(SECRET);
  });

  it("reads RFC 9457 problems with their validation errors", async () => {
    const answer = () =>
      new Response(JSON.stringify({ title: "Unprocessable Entity", status: 422, detail: "Request validation failed.", errors: ["$.gpu.id: required"] }), {
        status: 422,
      });
    const error = (await api(answer)
      .call("pods", "POST", "/v2/pods", {})
      .catch((e: unknown) => e)) as ProviderApiError;
    expect(error.detail).toBe("Request validation failed. ($.gpu.id: required)");
    expect(error.retryable).toBe(false);
  });

  it("retries a 429 after its Retry-After, and gives up after its attempts on 5xx", async () => {
    const sleeps: number[] = [];
    let n = 0;
    const answers = [
      () => new Response("{}", { status: 429, headers: { "retry-after": "7" } }),
      () => new Response("{}", { status: 502 }),
      () => new Response("{}", { status: 503 }),
    ];
    const error = (await api(() => answers[n++]!(), sleeps)
      .call("pods", "GET", "/v2/pods")
      .catch((e: unknown) => e)) as ProviderApiError;
    expect(n).toBe(3);
    expect(error.status).toBe(503);
    expect(sleeps[0]).toBeGreaterThanOrEqual(7_000);
  });
});
