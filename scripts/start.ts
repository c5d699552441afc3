import { spawn } from "node:child_process";
import { randomToken, readDevVars, writeDevVars } from "./dev-vars.ts";

/**
 * `npm start`: the edge in local mode under `wrangler dev` (local workerd,
 * SQLite Durable Objects persisted in .wrangler/state), with secrets from a
 * .dev.vars made on first run. Jobs wait in `queued` until the machine
 * supervisor joins this script (see the README's roadmap).
 */

const port = process.env.PORT ?? "8787";
const vars = readDevVars(".dev.vars");
let created: string | null = null;
if (!vars.get("API_KEYS")) {
  created = randomToken("lsk_");
  vars.set("API_KEYS", created);
}
if ((vars.get("WEBHOOK_SIGNING_KEY") ?? "").length < 32) vars.set("WEBHOOK_SIGNING_KEY", randomToken("", 48));
writeDevVars(".dev.vars", vars);

const child = spawn(
  "npx",
  ["wrangler", "dev", "--port", port, "--ip", "127.0.0.1", "--var", "ALLOW_LOOPBACK_URLS:true", "--show-interactive-dev-session=false"],
  { stdio: "inherit", detached: true, env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" } },
);

if (created) console.log(`\nlongscribe: created .dev.vars with API key ${created} (more keys: npm run keys -- new --write-dev-vars)\n`);
console.log(`longscribe: API on http://127.0.0.1:${port}/v1/transcriptions\n`);

// wrangler runs workerd as a grandchild: stop the whole process group, or workerd outlives us.
const stop = (signal: NodeJS.Signals) => {
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => stop(signal));
child.on("exit", (code, signal) => {
  stop("SIGTERM");
  process.exit(code ?? (signal ? 1 : 0));
});
