import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./shared-data.ts";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface LocalEdge {
  url: string;
  logs: () => string;
  stop: () => Promise<void>;
}

/**
 * The Worker under `wrangler dev` (local workerd, SQLite Durable Objects in a
 * fresh folder), as `npm start` runs it, with the given vars and secrets.
 */
export async function startLocalEdge(
  vars: Record<string, string>,
  persistTo = mkdtempSync(join(tmpdir(), "edge-state-")),
  /** A restart keeps its port (machines know it) and its state. */
  opts: { port?: number; keepState?: boolean } = {},
): Promise<LocalEdge> {
  const port = opts.port ?? (await freePort());
  // wrangler dev's devtools inspector listens on 9229 unless told otherwise, so a second
  // stack on the same box (two test files at once) failed to start: "Address already in use".
  const inspector = await freePort();
  const args = [
    "wrangler",
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspector),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
  ];
  for (const [k, v] of Object.entries({ ALLOW_LOOPBACK_URLS: "true", ...vars })) args.push("--var", `${k}:${v}`);
  const child: ChildProcess = spawn("npx", args, {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      // workerd must be gone before a restart takes the same port.
      if ((await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))])) === false) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    if (!opts.keepState) rmSync(persistTo, { recursive: true, force: true });
  };
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, logs: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`wrangler dev did not answer within 60 s:\n${output}`);
}
