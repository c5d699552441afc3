import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Fly Machines on a laptop: serves the subset of the Fly Machines API the edge's
 * provider uses (list, create, get, start, stop, wait, delete) on 127.0.0.1 and
 * runs each "machine" as a child process. The edge talks to it with the same
 * client it uses for Fly, pointed at this address. A machine that exits is
 * `stopped` (as a Fly machine with restart policy "no"); the supervisor itself
 * survives any machine's crash.
 */

/** What a local "machine" runs: the gpu-machine service, from the repository root. */
export const MACHINE_COMMAND: readonly string[] = [process.execPath, "--import", "tsx", "gpu-machine/cli.ts", "serve"];

export interface SupervisorOptions {
  app: string;
  /** Bearer token the edge presents (its FLY_API_TOKEN). */
  token: string;
  /** The command that runs one machine; the machine's config env is added to `env`. */
  command: readonly string[];
  cwd: string;
  /** What every machine gets, as Fly injects an app's secrets; a machine's own credential comes in its create request. */
  env: Record<string, string | undefined>;
  port?: number;
  /** SIGTERM, then SIGKILL after this long. */
  stopGraceMs?: number;
  log?: (line: string) => void;
}

type State = "created" | "starting" | "started" | "stopping" | "stopped" | "destroyed";

interface LocalMachine {
  id: string;
  name: string;
  region: string;
  instance_id: string;
  state: State;
  config: { image?: string; env?: Record<string, string>; guest?: unknown; restart?: unknown; metadata?: Record<string, string>; [k: string]: unknown };
  created_at: string;
  updated_at: string;
  events: Array<{
    type: string;
    status: string;
    source: string;
    timestamp: number;
    request?: { exit_event?: { exit_code: number | null; signal: string | null } };
  }>;
  child: ChildProcess | null;
  waiters: Set<() => void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class LocalSupervisor {
  private readonly machines = new Map<string, LocalMachine>();
  private server: Server | null = null;
  private readonly log: (line: string) => void;
  url = "";

  constructor(private readonly options: SupervisorOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} supervisor ${line}\n`));
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port ?? 0, "127.0.0.1", () => resolve());
    });
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Machines that are running now (for tests and the start script's shutdown). */
  running(): string[] {
    return [...this.machines.values()].filter((m) => m.child !== null).map((m) => m.id);
  }

  /** Stops every machine (SIGTERM, then SIGKILL) and the server. */
  async close(): Promise<void> {
    await Promise.all([...this.machines.values()].filter((m) => m.child).map((m) => this.stopMachine(m, "SIGTERM")));
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (!this.authorized(req.headers.authorization)) throw new HttpError(401, "missing or wrong bearer token");
      const url = new URL(req.url ?? "/", "http://local");
      const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
      if (parts[0] !== "v1" || parts[1] !== "apps" || parts[3] !== "machines" || parts.length > 6) throw new HttpError(404, "not found");
      if (parts[2] !== this.options.app) throw new HttpError(404, `app ${parts[2]} not found`);
      const id = parts[4];
      const action = parts[5];
      const method = req.method ?? "GET";
      const body = method === "POST" ? await readJson(req) : {};
      let answer: unknown;
      if (id === undefined) {
        if (method === "GET") answer = [...this.machines.values()].filter((m) => m.state !== "destroyed").map(view);
        else if (method === "POST") answer = view(this.create(body));
        else throw new HttpError(405, "method not allowed");
      } else {
        const m = this.machines.get(id);
        if (!m || m.state === "destroyed") throw new HttpError(404, `machine ${id} not found`);
        answer = await this.act(m, method, action, body, url.searchParams);
      }
      send(res, 200, answer);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      send(res, status, { error: (error as Error).message });
    }
  }

  private async act(m: LocalMachine, method: string, action: string | undefined, body: Record<string, unknown>, query: URLSearchParams): Promise<unknown> {
    switch (`${method} ${action ?? ""}`) {
      case "GET ":
        return view(m);
      case "POST start": {
        const previous = m.state;
        // Starting a started machine is a no-op, as reconcile needs.
        if (m.child === null) this.launch(m);
        return { previous_state: previous, migrated: false, new_host: "" };
      }
      case "POST stop":
        void this.stopMachine(m, typeof body.signal === "string" ? (body.signal as NodeJS.Signals) : "SIGTERM");
        return { ok: true };
      case "GET wait": {
        const want = query.get("state") ?? "started";
        const timeoutMs = Math.min(60, Math.max(1, Number(query.get("timeout") ?? "60"))) * 1000;
        if (!(await this.waitFor(m, want, timeoutMs))) throw new HttpError(408, `machine ${m.id} did not reach ${want} in time`);
        return { ok: true };
      }
      case "DELETE ": {
        if (m.child && query.get("force") !== "true") throw new HttpError(412, `machine ${m.id} is ${m.state}: stop it first or pass force=true`);
        if (m.child) await this.stopMachine(m, "SIGKILL");
        this.setState(m, "destroyed");
        this.machines.delete(m.id);
        return { ok: true };
      }
      default:
        throw new HttpError(404, "not found");
    }
  }

  private create(body: Record<string, unknown>): LocalMachine {
    const config = (body.config ?? {}) as LocalMachine["config"];
    if (typeof config !== "object" || config === null) throw new HttpError(400, "config must be an object");
    const id = randomBytes(7).toString("hex");
    const now = new Date().toISOString();
    const m: LocalMachine = {
      id,
      name: typeof body.name === "string" ? body.name : `machine-${id.slice(0, 6)}`,
      region: typeof body.region === "string" ? body.region : "local",
      instance_id: "",
      state: "created",
      config,
      created_at: now,
      updated_at: now,
      events: [],
      child: null,
      waiters: new Set(),
    };
    this.machines.set(id, m);
    if (body.skip_launch !== true) this.launch(m);
    return m;
  }

  private launch(m: LocalMachine): void {
    const [cmd, ...args] = this.options.command;
    m.instance_id = randomBytes(8).toString("hex");
    this.setState(m, "starting");
    const child = spawn(cmd!, args, {
      cwd: this.options.cwd,
      env: { ...this.options.env, ...(m.config.env ?? {}), FLY_MACHINE_ID: m.id, FLY_APP_NAME: this.options.app, FLY_REGION: m.region },
      stdio: ["ignore", "inherit", "pipe"],
    });
    m.child = child;
    child.stderr?.on("data", (d: Buffer) => {
      for (const line of d.toString().split("\n")) if (line.trim()) this.log(`[${m.id}] ${line}`);
    });
    child.once("spawn", () => this.setState(m, "started"));
    child.once("error", (error) => this.log(`machine ${m.id} could not start: ${error.message}`));
    child.once("exit", (code, signal) => {
      m.child = null;
      m.events.push({ type: "exit", status: "stopped", source: "flyd", timestamp: Date.now(), request: { exit_event: { exit_code: code, signal } } });
      this.log(`machine ${m.id} exited (${signal ?? `code ${code}`})`);
      if (m.state !== "destroyed") this.setState(m, "stopped");
    });
    this.log(`machine ${m.id} starting`);
  }

  private async stopMachine(m: LocalMachine, signal: NodeJS.Signals): Promise<void> {
    const child = m.child;
    if (!child) return;
    this.setState(m, "stopping");
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), this.options.stopGraceMs ?? 25_000);
    await exited;
    clearTimeout(timer);
  }

  private setState(m: LocalMachine, state: State): void {
    m.state = state;
    m.updated_at = new Date().toISOString();
    for (const w of m.waiters) w();
  }

  private waitFor(m: LocalMachine, state: string, timeoutMs: number): Promise<boolean> {
    if (m.state === state) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (m.state !== state) return;
        clearTimeout(timer);
        m.waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        m.waiters.delete(check);
        resolve(false);
      }, timeoutMs);
      m.waiters.add(check);
    });
  }

  private authorized(header: string | undefined): boolean {
    const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? "")?.[1] ?? "");
    const want = Buffer.from(this.options.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }
}

function view(m: LocalMachine): object {
  const { child: _child, waiters: _waiters, ...rest } = m;
  return rest;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new HttpError(413, "body over 1 MB");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString();
  if (text.trim() === "") return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
    return parsed as Record<string, unknown>;
  } catch {
    throw new HttpError(400, "body must be a JSON object");
  }
}
