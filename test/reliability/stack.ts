import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlyClient, type FlyMachine } from "../../edge/providers/fly-client.ts";
import type { TranscriptionJob } from "../../shared/api.ts";
import { freePort, startLocalEdge, type LocalEdge } from "../support/local-edge.ts";
import { REPO_ROOT } from "../support/shared-data.ts";
import { TEST_API_KEYS, TEST_WEBHOOK_SIGNING_KEY } from "../support/test-secrets.ts";
import { waitUntil } from "../../shared/sleep.ts";

/**
 * The whole system as `npm start` runs it, in pieces a test can break: the edge
 * under wrangler dev (restartable on the same port and state), the local
 * supervisor as its own process (killable), machines it starts on demand, and a
 * webhook receiver that records every delivery.
 */

export interface StackOptions {
  model: string;
  maxMachines: number;
  leaseSec: number;
  idleExitSec: number;
  /** Small, so that a job of a few minutes calls for several machines. */
  audioSecPerMachine: number;
  /** Extra environment for the machines the supervisor starts (WHISPER_THREADS, WHISPER_BATCH …). */
  machineEnv?: Record<string, string>;
}

export interface Delivery {
  id: string;
  type: string;
  jobId: string;
  at: number;
}

export interface Transcript {
  text: string;
  segments: Array<{ start_sec: number; end_sec: number; text: string }>;
}

const FLY_TOKEN = "reliability-fly-token-0123456789";
const APP = "longscribe-reliability";
export const KEY = TEST_API_KEYS[0];

export class Stack {
  edge!: LocalEdge;
  private supervisor: ChildProcess | null = null;
  private supervisorLog = "";
  readonly fly: FlyClient;
  readonly deliveries: Delivery[] = [];
  /** Paths of the receiver that fail: 503 for the first n deliveries, 500 always, hang, 410. */
  readonly hookBehaviour = new Map<string, { kind: "fail_first"; n: number; seen: number } | { kind: "status"; status: number } | { kind: "hang" }>();
  private hookServer: Server | null = null;
  hookBase = "";

  private constructor(
    private readonly options: StackOptions,
    private readonly state: string,
    private readonly edgePort: number,
    private readonly supervisorPort: number,
  ) {
    this.fly = new FlyClient({ baseUrl: `http://127.0.0.1:${supervisorPort}`, app: APP, token: FLY_TOKEN, attempts: 1 });
  }

  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options, mkdtempSync(join(tmpdir(), "reliability-")), await freePort(), await freePort());
    await stack.startHooks();
    await stack.startSupervisor();
    await stack.startEdge();
    return stack;
  }

  get api(): string {
    return `http://127.0.0.1:${this.edgePort}`;
  }

  logs(): string {
    return `${this.edge?.logs() ?? ""}\n--- supervisor ---\n${this.supervisorLog.slice(-30_000)}`;
  }

  async startEdge(): Promise<void> {
    const o = this.options;
    this.edge = await startLocalEdge(
      {
        API_KEYS: TEST_API_KEYS.join(","),
        WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY,
        // No shared machine token: the machines the supervisor runs claim with their own credentials.
        FLY_API_TOKEN: FLY_TOKEN,
        PUBLIC_BASE_URL: this.api,
        MACHINE_PROVIDER: "local",
        FLY_API_URL: `http://127.0.0.1:${this.supervisorPort}`,
        FLY_APP: APP,
        MACHINE_IMAGE: "local",
        MAX_MACHINES: String(o.maxMachines),
        LEASE_SEC: String(o.leaseSec),
        AUDIO_SEC_PER_MACHINE: String(o.audioSecPerMachine),
        MACHINE_START_GRACE_SEC: "60",
        IDLE_EXIT_SEC: String(o.idleExitSec),
      },
      join(this.state, "edge"),
      { port: this.edgePort, keepState: true },
    );
  }

  /** Stops wrangler dev and starts it again on the same port and state. */
  async restartEdge(): Promise<void> {
    await this.edge.stop();
    await this.startEdge();
  }

  async startSupervisor(): Promise<void> {
    const child = spawn(process.execPath, ["--import", "tsx", "gpu-machine/supervisor/main.ts"], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        SUPERVISOR_PORT: String(this.supervisorPort),
        FLY_APP: APP,
        FLY_API_TOKEN: FLY_TOKEN,
        WHISPER_MODEL_DIR: this.options.model,
        WHISPER_THREADS: "1",
        WHISPER_BATCH: "4",
        ALLOW_PRIVATE_MEDIA: "1",
        ...this.options.machineEnv,
      },
    });
    child.stderr?.on("data", (d: Buffer) => (this.supervisorLog = (this.supervisorLog + d.toString()).slice(-200_000)));
    this.supervisor = child;
    await waitUntil(() => this.supervisorLog.includes("supervisor listening"), { timeoutMs: 10_000, intervalMs: 50 });
    if (!this.supervisorLog.includes("supervisor listening")) throw new Error(`supervisor did not start:\n${this.supervisorLog}`);
  }

  /** SIGKILL to the supervisor alone: its machines live on as orphans, as on a host whose agent died. */
  async killSupervisor(): Promise<void> {
    const child = this.supervisor!;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    this.supervisor = null;
  }

  async machines(): Promise<FlyMachine[]> {
    return this.fly.list();
  }

  async killMachine(id: string): Promise<void> {
    await this.fly.stop(id, { signal: "SIGKILL" });
  }

  /** Machine ids that have started a task of this job, from their logs. */
  workingOn(jobId: string): string[] {
    const ids = new Set<string>();
    for (const m of this.supervisorLog.matchAll(new RegExp(`\\[(\\w+)\\] \\S+ \\w+ start ${jobId}\\.r\\d+`, "g"))) ids.add(m[1]!);
    return [...ids];
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.api}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  async submit(body: Record<string, unknown>): Promise<TranscriptionJob> {
    const res = await this.call<TranscriptionJob>("POST", "/v1/transcriptions", body);
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async job(id: string): Promise<TranscriptionJob> {
    return (await this.call<TranscriptionJob>("GET", `/v1/transcriptions/${id}`)).body;
  }

  /** Polls until `done` holds; throws with the logs when it does not within `seconds`. */
  async until(id: string, done: (j: TranscriptionJob) => boolean, seconds: number): Promise<TranscriptionJob> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
      try {
        const j = await this.job(id);
        if (done(j)) return j;
      } catch {
        // the edge is restarting
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`job ${id} did not get there in ${seconds} s: ${JSON.stringify(await this.job(id).catch(() => null))}\n${this.logs().slice(-8000)}`);
  }

  finished(id: string, seconds = 240): Promise<TranscriptionJob> {
    return this.until(id, (j) => ["completed", "failed", "canceled"].includes(j.status), seconds);
  }

  async transcript(id: string): Promise<Transcript> {
    return (await this.call<Transcript>("GET", `/v1/transcriptions/${id}/transcript?format=json`)).body;
  }

  private async startHooks(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        const behaviour = this.hookBehaviour.get(path);
        if (behaviour?.kind === "hang") return; // never answers
        if (behaviour?.kind === "status") return void res.writeHead(behaviour.status).end();
        if (behaviour?.kind === "fail_first" && behaviour.seen++ < behaviour.n) return void res.writeHead(503).end();
        const body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as { type?: string; data?: { id?: string } };
        this.deliveries.push({ id: String(req.headers["webhook-id"] ?? ""), type: body.type ?? "", jobId: body.data?.id ?? "", at: Date.now() });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.hookServer = server;
    this.hookBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const m of await this.machines().catch(() => [])) await this.fly.stop(m.id, { signal: "SIGKILL" }).catch(() => undefined);
    if (this.supervisor) await this.killSupervisor();
    await this.edge?.stop();
    this.hookServer?.closeAllConnections();
    await new Promise<void>((r) => (this.hookServer ? this.hookServer.close(() => r()) : r()));
    rmSync(this.state, { recursive: true, force: true });
  }
}

/** Two transcripts are the same when segment count, order, times and text all match. */
export function sameTranscript(a: Transcript, b: Transcript): { same: boolean; detail: string } {
  if (a.segments.length !== b.segments.length) return { same: false, detail: `${b.segments.length} segments instead of ${a.segments.length}` };
  for (let i = 0; i < a.segments.length; i++) {
    const x = a.segments[i]!;
    const y = b.segments[i]!;
    if (x.text !== y.text || Math.abs(x.start_sec - y.start_sec) > 0.011 || Math.abs(x.end_sec - y.end_sec) > 0.011) {
      return { same: false, detail: `segment ${i} differs: ${JSON.stringify(x)} vs ${JSON.stringify(y)}` };
    }
  }
  return { same: true, detail: `${b.segments.length} segments, identical` };
}
