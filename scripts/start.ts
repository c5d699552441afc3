import { execFileSync, spawn } from "node:child_process";
import { LocalSupervisor, MACHINE_COMMAND } from "../gpu-machine/supervisor/local-supervisor.ts";
import { buildWeb } from "./build-web.ts";
import { randomToken, readDevVars, writeDevVars } from "./dev-vars.ts";
import { waitUntil } from "../shared/sleep.ts";

/**
 * `npm start`: the whole system on one machine, no cloud account.
 * - the edge under `wrangler dev` (local workerd, SQLite Durable Objects
 *   persisted in .wrangler/state), in local mode;
 * - the local supervisor, which serves the Fly Machines API on 127.0.0.1 and
 *   runs each machine the edge asks for as a gpu-machine process.
 * Secrets live in .dev.vars, made on first run. Ctrl-C stops both, machines too.
 */

const started = Date.now();
const port = Number(process.env.PORT ?? "8787");
const supervisorPort = Number(process.env.SUPERVISOR_PORT ?? String(port + 2));
const api = `http://127.0.0.1:${port}`;
const app = "longscribe-local";

// Tests keep their secrets apart from the developer's .dev.vars.
const devVarsPath = process.env.LONGSCRIBE_DEV_VARS ?? ".dev.vars";
const vars = readDevVars(devVarsPath);
let created: string | null = null;
if (!vars.get("API_KEYS")) {
  created = randomToken("lsk_");
  vars.set("API_KEYS", created);
}
for (const secret of ["WEBHOOK_SIGNING_KEY", "MACHINE_TOKEN", "FLY_API_TOKEN"]) {
  if ((vars.get(secret) ?? "").length < 32) vars.set(secret, randomToken("", 48));
}
writeDevVars(devVarsPath, vars);

const supervisor = new LocalSupervisor({
  app,
  token: vars.get("FLY_API_TOKEN")!,
  command: MACHINE_COMMAND,
  cwd: process.cwd(),
  // This shell's settings (WHISPER_MODEL_DIR …), as Fly would inject app secrets; each machine's
  // own credential comes from the edge with its create request, so no shared token is passed.
  // Local mode: media on 127.0.0.1 (the CLI serves local files there) is allowed.
  env: { ...process.env, ALLOW_PRIVATE_MEDIA: "1" },
  port: supervisorPort,
});

// Local settings over wrangler.toml's production ones. On 2 cores one machine at a
// time is the fastest; raise MAX_MACHINES on a bigger box.
const local: Record<string, string> = {
  ALLOW_LOOPBACK_URLS: "true",
  PUBLIC_BASE_URL: api,
  MACHINE_PROVIDER: "local",
  FLY_API_URL: `http://127.0.0.1:${supervisorPort}`,
  FLY_APP: app,
  MACHINE_IMAGE: "local",
  MAX_MACHINES: process.env.MAX_MACHINES ?? "1",
  IDLE_EXIT_SEC: process.env.IDLE_EXIT_SEC ?? "60",
  // One user on their own machine: no per-key job limit.
  MAX_ACTIVE_JOBS_PER_KEY: process.env.MAX_ACTIVE_JOBS_PER_KEY ?? "0",
  MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY: process.env.MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY ?? "0",
};

let stopping = false;
let wrangler: ReturnType<typeof spawn> | null = null;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // wrangler runs workerd as a grandchild: stop the whole process group, or workerd outlives us.
  if (wrangler?.pid !== undefined) {
    try {
      process.kill(-wrangler.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await supervisor.close();
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop(0));

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  await buildWeb();
  await supervisor.listen();
  const args = ["wrangler", "dev", "--port", String(port), "--ip", "127.0.0.1", "--show-interactive-dev-session=false"];
  // Tests keep their state apart from .wrangler/state.
  if (process.env.LONGSCRIBE_STATE_DIR) args.push("--persist-to", process.env.LONGSCRIBE_STATE_DIR);
  for (const [k, v] of Object.entries(local)) args.push("--var", `${k}:${v}`);
  // wrangler reads ./.dev.vars itself; secrets from another file go in as vars, which win.
  if (devVarsPath !== ".dev.vars") for (const [k, v] of vars) args.push("--var", `${k}:${v}`);
  // worker-configuration.d.ts is generated, not committed: made here from the same config and
  // .dev.vars that wrangler dev reads, it has nothing to warn about ("types might be out of date").
  execFileSync("npx", ["wrangler", "types", "--strict-vars=false"], { stdio: "ignore", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  wrangler = spawn("npx", args, {
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  wrangler.on("exit", (code, signal) => {
    if (!stopping) console.error(`longscribe: wrangler dev exited (${signal ?? `code ${code}`})`);
    void stop(code ?? 1);
  });
  await waitUntil(() => answers(`${api}/healthz`), { timeoutMs: 60_000, intervalMs: 250 });
  if (!(await answers(`${api}/healthz`))) {
    console.error(`longscribe: the API did not answer on ${api} within 60 s; see wrangler's output above`);
    return stop(1);
  }
  const key = vars.get("API_KEYS")!.split(",")[0]!;
  console.log(`\nlongscribe: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`  web page  ${api}/`);
  console.log(`  API       ${api}/v1/transcriptions   (reference: ${api}/docs)`);
  console.log(`  API key   ${created ? `${key} (new, saved in ${devVarsPath})` : `the first of API_KEYS in ${devVarsPath}`}`);
  console.log(`  machines  started on demand through the local supervisor at ${supervisor.url} (at most ${local.MAX_MACHINES})`);
  console.log(`  try       npx longscribe transcribe <audio file or URL> --wait --format srt\n`);
}

void main();
