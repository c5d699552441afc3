import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FlyClient } from "../edge/providers/fly-client.ts";
import type { TranscriptionJob } from "../shared/api.ts";
import { readDevVars } from "../scripts/dev-vars.ts";
import { freePort } from "./support/local-edge.ts";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, REPO_ROOT, sharedPath } from "./support/shared-data.ts";
import { packagedModel } from "./support/whisper-models.ts";
import { waitUntil } from "../shared/sleep.ts";

const need = missingShared("data/speech/jfk/jfk.wav");
const JOBS = 6;
const IDLE_EXIT_SEC = 5;
const MAX_MACHINES = 2;

/** `npm start`'s script, as a user runs it, with its state in a temporary folder. */
describe.skipIf(need.missing)("npm start: the edge and the local supervisor start machines on demand and none remain after", () => {
  let stack: ChildProcess;
  let output = "";
  let api = "";
  let key = "";
  let fly: FlyClient;
  let media: MediaServer;
  let readySec = 0;
  const state = mkdtempSync(join(tmpdir(), "stack-state-"));
  const devVars = join(state, "dev.vars");

  beforeAll(async () => {
    const port = await freePort();
    const supervisorPort = await freePort();
    api = `http://127.0.0.1:${port}`;
    media = await startMediaServer({ "/jfk.wav": { file: sharedPath("data/speech/jfk/jfk.wav") } });
    const started = Date.now();
    stack = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        PORT: String(port),
        SUPERVISOR_PORT: String(supervisorPort),
        LONGSCRIBE_STATE_DIR: join(state, "wrangler"),
        LONGSCRIBE_DEV_VARS: devVars,
        WHISPER_MODEL_DIR: await packagedModel("tiny"),
        WHISPER_THREADS: "1",
        IDLE_EXIT_SEC: String(IDLE_EXIT_SEC),
        MAX_MACHINES: String(MAX_MACHINES),
        NO_COLOR: "1",
      },
    });
    stack.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    stack.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    for (let i = 0; i < 1200 && !output.includes("longscribe: ready"); i++) {
      if (stack.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(output).toContain("longscribe: ready");
    readySec = (Date.now() - started) / 1000;
    const vars = readDevVars(devVars);
    key = vars.get("API_KEYS")!.split(",")[0]!;
    fly = new FlyClient({ baseUrl: `http://127.0.0.1:${supervisorPort}`, app: "longscribe-local", token: vars.get("FLY_API_TOKEN")!, attempts: 1 });
  }, 180_000);

  afterAll(async () => {
    if (stack?.pid !== undefined && stack.exitCode === null) {
      const exited = new Promise((r) => stack.once("exit", r));
      process.kill(-stack.pid, "SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    await media?.close();
    mkdirSync(join(REPO_ROOT, ".tmp"), { recursive: true });
    writeFileSync(join(REPO_ROOT, ".tmp", "local-stack.log"), output); // for looking into a failure
    rmSync(state, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, body?: unknown) =>
    (await fetch(`${api}${path}`, { method, headers: { authorization: `Bearer ${key}` }, ...(body ? { body: JSON.stringify(body) } : {}) })).json();
  const running = async () => (await fly.list()).filter((m) => m.state === "started" || m.state === "starting").length;

  it(`transcribes a burst of ${JOBS} jobs on at most ${MAX_MACHINES} machines it starts, which all exit once idle (IDLE_EXIT_SEC ${IDLE_EXIT_SEC})`, async () => {
    expect(await running()).toBe(0); // nothing runs before there is work
    const submitted = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++)
      ids.push(((await call("POST", "/v1/transcriptions", { audio_url: media.url("/jfk.wav"), language: "en" })) as TranscriptionJob).id);
    let peak = 0;
    const done = new Map<string, TranscriptionJob>();
    for (let i = 0; i < 1200 && done.size < JOBS; i++) {
      peak = Math.max(peak, await running());
      for (const id of ids.filter((x) => !done.has(x))) {
        const job = (await call("GET", `/v1/transcriptions/${id}`)) as TranscriptionJob;
        if (!["queued", "planning", "running"].includes(job.status)) done.set(id, job);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const allDoneSec = (Date.now() - submitted) / 1000;
    expect([...done.values()].map((j) => j.status)).toEqual(ids.map(() => "completed"));
    const text = await (await fetch(`${api}/v1/transcriptions/${ids[0]}/transcript?format=text`, { headers: { authorization: `Bearer ${key}` } })).text();
    expect(text.toLowerCase()).toContain("ask not what your country can do for you");
    // Usage names the local supervisor's machines, which cost nothing, for the plan and every range.
    for (const job of done.values()) {
      expect(job.usage!.machines!.map((m) => [m.provider, m.machine_type, m.price_per_hour_usd])).toEqual(
        job.usage!.machines!.map(() => ["local", "local", 0]),
      );
      expect(job.usage!.machines!.some((m) => m.plan)).toBe(true);
      expect(job.usage!.machines!.flatMap((m) => m.ranges).sort((a, b) => a - b)).toEqual(Array.from({ length: job.progress.ranges_total }, (_, i) => i));
      expect(job.usage!.cost_usd).toBe(0);
    }
    const machines = await fly.list();
    expect(machines.length).toBeGreaterThanOrEqual(1);
    expect(machines.length).toBeLessThanOrEqual(MAX_MACHINES);
    expect(peak).toBeLessThanOrEqual(MAX_MACHINES);

    // Scale to zero: machines exit by themselves once idle.
    const idleFrom = Date.now();
    await waitUntil(async () => (await running()) === 0, { timeoutMs: 30_000, intervalMs: 250 });
    expect(await running()).toBe(0);
    const zeroSec = (Date.now() - idleFrom) / 1000;

    // Cold start: the supervisor spawning a machine → that machine starting its first task.
    const lines = output.split("\n");
    const spawnAt = lines.find((l) => / machine \w+ starting/.test(l))!;
    const id = / machine (\w+) starting/.exec(spawnAt)![1]!;
    const firstTask = lines.find((l) => l.includes(`[${id}]`) && / start tr_/.test(l))!;
    const coldStartSec = (Date.parse(firstTask.slice(0, 24)) - Date.parse(spawnAt.slice(0, 24))) / 1000;
    console.log(
      `npm start ready in ${readySec.toFixed(1)} s; cold start (spawn → first task) ${coldStartSec.toFixed(2)} s; ` +
        `${JOBS} jobs done in ${allDoneSec.toFixed(1)} s on ${machines.length} machine(s) (peak ${peak} running); zero machines ${zeroSec.toFixed(1)} s after the last job`,
    );
    expect(coldStartSec).toBeGreaterThan(0);
  }, 600_000);
});
