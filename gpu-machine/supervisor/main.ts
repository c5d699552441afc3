import { LocalSupervisor, MACHINE_COMMAND } from "./local-supervisor.ts";

/**
 * The local supervisor as a process of its own (npm start runs it inside its own
 * process instead). Environment: SUPERVISOR_PORT, FLY_APP, FLY_API_TOKEN (the
 * token the edge presents), and whatever machines need (WHISPER_MODEL_DIR …),
 * which every machine inherits as Fly's app secrets; each machine's own
 * credential comes in its create request, as on Fly.
 */
const token = process.env.FLY_API_TOKEN ?? "";
const port = Number(process.env.SUPERVISOR_PORT ?? "8789");
if (token.length < 16 || !Number.isInteger(port)) {
  process.stderr.write("error: set FLY_API_TOKEN (≥ 16 characters) and SUPERVISOR_PORT\n");
  process.exit(2);
}
const supervisor = new LocalSupervisor({
  app: process.env.FLY_APP ?? "longscribe-local",
  token,
  command: MACHINE_COMMAND,
  cwd: process.cwd(),
  env: { ...process.env },
  port,
});
await supervisor.listen();
process.stderr.write(`supervisor listening on ${supervisor.url}\n`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void supervisor.close().then(() => process.exit(0)));
}
