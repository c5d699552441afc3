// Secrets are not in wrangler.toml, so `wrangler types` cannot see them.
declare namespace Cloudflare {
  interface Env {
    /** Comma-separated API keys. */
    API_KEYS?: string;
    /** Master key from which each API key's webhook signing secret is derived. */
    WEBHOOK_SIGNING_KEY?: string;
    /** Shared secret machines present to claim work (MachineProvider passes it at start). */
    MACHINE_TOKEN?: string;
    /** Fly API token (`fly tokens create deploy`), or the local supervisor's token. */
    FLY_API_TOKEN?: string;
    /** RunPod API key (Settings → API Keys), read/write on pods. */
    RUNPOD_API_KEY?: string;
    /** Requests per API key on the public routes (wrangler.toml's production [[ratelimits]]); absent locally. */
    API_RATE_LIMIT?: RateLimit;
  }
}
