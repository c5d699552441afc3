import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, copyFileSync, createReadStream, existsSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { mkdtemp, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeUploadApi } from "../test/support/fake-upload-api.ts";
import type { CliIo } from "./cli-io.ts";
import { main } from "./longscribe.ts";
import { isLoopbackApi } from "./transcribe-command.ts";

const MiB = 2 ** 20;
/** Six parts of the fake's 5 MiB, the last a short one. */
const FILE_BYTES = 25 * MiB + 12_345;
const PARTS = 6;

let dir: string;
let api: FakeUploadApi;
let file: string;
let statePath: string;

async function writeRandomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, "w");
  for (let at = 0; at < size; at += MiB) await handle.write(randomBytes(Math.min(MiB, size - at)));
  await handle.close();
}

async function sha256(paths: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const path of paths) for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function cliIo(signal?: AbortSignal): { io: Partial<CliIo>; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    io: {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      isTTY: false,
      columns: 100,
      env: { LONGSCRIBE_API_KEY: api.key, LONGSCRIBE_UPLOAD_STATE: statePath },
      cwd: dir,
      pollMs: 10,
      signal,
    },
    out: () => out,
    err: () => err,
  };
}

/** `longscribe transcribe FILE --upload`: --upload, since the fake lives on 127.0.0.1, which would otherwise mean "serve it". */
function transcribe(path: string, signal?: AbortSignal) {
  const run = cliIo(signal);
  return { ...run, code: main(["transcribe", path, "--upload", "--api", api.url], run.io) };
}

function stateEntries(): unknown[] {
  return existsSync(statePath) ? (JSON.parse(readFileSync(statePath, "utf8")) as unknown[]) : [];
}

/** Runs once and presses Ctrl-C as soon as the server holds two parts; the parts after those are never answered. */
async function interruptedAfterTwoParts(path: string) {
  const interrupt = new AbortController();
  api.holdAfterParts = 2;
  api.onPart = () => {
    if ([...api.uploads.values()].some((u) => u.parts.size >= 2)) interrupt.abort();
  };
  const run = transcribe(path, interrupt.signal);
  const code = await run.code;
  await api.quiet();
  api.holdAfterParts = Number.POSITIVE_INFINITY;
  api.onPart = () => undefined;
  return { code, err: run.err() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "longscribe-upload-"));
  file = join(dir, "talk.mp3");
  await writeRandomFile(file, FILE_BYTES);
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await api?.close();
  api = new FakeUploadApi(dir);
  await api.start();
  statePath = join(dir, `state-${Math.random().toString(36).slice(2)}`, "uploads.json");
  // A fresh modification time: each test's file is one the state file has not seen.
  const t = new Date(Date.now() - Math.floor(Math.random() * 1e9));
  utimesSync(file, t, t);
});

describe("longscribe transcribe FILE against a deployed API: multipart upload", () => {
  it("sends every part byte-exact, a few at a time, then creates the job from the upload and forgets it", async () => {
    const run = transcribe(file);
    expect(await run.code, run.err()).toBe(0);
    const [upload] = [...api.uploads.values()];
    expect(upload).toMatchObject({ size_bytes: FILE_BYTES, content_type: "audio/mpeg", filename: "talk.mp3", completed: true });
    expect(api.putsOf(upload!.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(api.maxInFlight).toBeGreaterThan(1);
    expect(api.maxInFlight).toBeLessThanOrEqual(4);
    const parts = Array.from({ length: PARTS }, (_, i) => api.partPath(upload!.id, i + 1));
    expect(await sha256(parts)).toBe(await sha256([file]));
    expect(api.jobs).toEqual([{ upload_id: upload!.id }]);
    expect(run.out()).toContain("id          tr_");
    // Plain lines (no terminal): the start, then one per 10 %, ending at 100 %.
    const lines = run
      .err()
      .split("\n")
      .filter((l) => l.startsWith("uploading "));
    expect(lines[0]).toMatch(/^uploading 0\.0 MB \/ 26\.2 MB \(0\.0%\)/);
    expect(lines.at(-1)).toMatch(/^uploading 26\.2 MB \/ 26\.2 MB \(100\.0%\), [\d.]+ MB\/s, ETA 00:00$/);
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(stateEntries()).toEqual([]);
  });

  it("sends a part again when the server answers 503", async () => {
    api.failOnce.add(3);
    const run = transcribe(file);
    expect(await run.code, run.err()).toBe(0);
    const [upload] = [...api.uploads.values()];
    expect(api.putsOf(upload!.id).filter((n) => n === 3)).toHaveLength(2);
    expect(upload!.completed).toBe(true);
    expect(await sha256(Array.from({ length: PARTS }, (_, i) => api.partPath(upload!.id, i + 1)))).toBe(await sha256([file]));
  });

  it("pauses on Ctrl-C, and the same command then sends only the missing parts", async () => {
    const first = await interruptedAfterTwoParts(file);
    expect(first.code).toBe(130);
    expect(first.err).toContain("run the same command again to send the rest");
    const [upload] = [...api.uploads.values()];
    expect(upload!.parts.size).toBe(2);
    const held = [...upload!.parts.keys()];
    expect(stateEntries()).toHaveLength(1);
    expect(api.jobs).toEqual([]);

    const before = api.puts.length;
    const second = transcribe(file);
    expect(await second.code, second.err()).toBe(0);
    expect(second.err()).toContain(`resuming upload ${upload!.id}: 10.5 MB of 26.2 MB already sent`);
    const resent = api.puts.slice(before).map((p) => Number(p.split(":")[1]));
    expect(resent.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6].filter((n) => !held.includes(n)));
    expect(api.uploads.size).toBe(1);
    expect(await sha256(Array.from({ length: PARTS }, (_, i) => api.partPath(upload!.id, i + 1)))).toBe(await sha256([file]));
    expect(api.jobs).toEqual([{ upload_id: upload!.id }]);
    expect(stateEntries()).toEqual([]);
  });

  it("reuses a completed upload of the unchanged file without sending anything", async () => {
    api.refuseCreates = 1;
    const first = transcribe(file);
    expect(await first.code).toBe(1);
    expect(first.err()).toMatch(/error unavailable: .*\n {2}the file is uploaded \(up_\w+\): run the same command again to retry without sending it again/);
    const puts = api.puts.length;
    const completes = api.completes;

    const second = transcribe(file);
    expect(await second.code, second.err()).toBe(0);
    expect(second.err()).toContain("is already uploaded as up_");
    expect(api.puts.length).toBe(puts);
    expect(api.completes).toBe(completes);
    expect(api.uploads.size).toBe(1);
    expect(api.jobs).toEqual([{ upload_id: [...api.uploads.keys()][0] }]);
    expect(stateEntries()).toEqual([]);
  });

  it("starts anew when the file changed since the interrupted run", async () => {
    expect((await interruptedAfterTwoParts(file)).code).toBe(130);
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    const second = transcribe(file);
    expect(await second.code, second.err()).toBe(0);
    expect(api.uploads.size).toBe(2);
    const fresh = [...api.uploads.values()][1]!;
    expect(api.putsOf(fresh.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(api.jobs).toEqual([{ upload_id: fresh.id }]);
  });

  it("starts anew when the server no longer has the upload", async () => {
    expect((await interruptedAfterTwoParts(file)).code).toBe(130);
    const [old] = [...api.uploads.keys()];
    api.gone.add(old!);
    const second = transcribe(file);
    expect(await second.code, second.err()).toBe(0);
    expect(second.err()).toContain(`the earlier upload of ${file} (${old}) is gone (upload_gone); sending the file anew`);
    expect(api.uploads.size).toBe(2);
    expect(stateEntries()).toEqual([]);
  });

  it("refuses to complete an upload whose file changed while it was sent, and forgets it", async () => {
    const growing = join(dir, "growing.mp3");
    copyFileSync(file, growing);
    api.onPart = () => appendFileSync(growing, "more");
    const run = transcribe(growing);
    expect(await run.code).toBe(1);
    expect(run.err()).toContain(`error file_changed: ${growing} changed while it was being sent\n  run the same command again once the file no longer changes`);
    expect(api.completes).toBe(0);
    expect(stateEntries()).toEqual([]);
  });

  it("stops with what to do when the server refuses a part, keeping what was sent", async () => {
    api.refusePart = 4;
    const run = transcribe(file);
    expect(await run.code).toBe(1);
    const [upload] = [...api.uploads.values()];
    expect(api.putsOf(upload!.id).filter((n) => n === 4)).toHaveLength(1);
    expect(run.err()).toMatch(
      new RegExp(
        `error invalid_request: upload ${upload!.id}: part 4 refused\n {2}the parts sent so far are kept: run the same command again to send the rest \\(the server keeps it until \\d{4}-`,
      ),
    );
    expect(stateEntries()).toHaveLength(1);
  });
});

/**
 * The CLI run as a program, its peak resident memory (VmHWM) read from /proc
 * while it runs: a separate process, so that neither the test runner nor the
 * fake server (whose socket buffers wait for a garbage collection) count.
 */
async function peakMemoryOfUpload(path: string): Promise<number> {
  const bin = fileURLToPath(new URL("../bin/longscribe.mjs", import.meta.url));
  const child = spawn(process.execPath, [bin, "transcribe", path, "--upload", "--api", api.url], {
    env: { ...process.env, LONGSCRIBE_API_KEY: api.key, LONGSCRIBE_UPLOAD_STATE: statePath },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  let peak = 0;
  const sample = setInterval(() => {
    try {
      const kB = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1];
      if (kB) peak = Math.max(peak, Number(kB) * 1024);
    } catch {
      // it has just exited; the high-water mark read before stands
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearInterval(sample);
  expect(code, err).toBe(0);
  return peak;
}

describe.skipIf(!existsSync("/proc/self/status"))("memory", () => {
  it("holds a part per part in flight, not the file: 200 MB cost what 1 MB does, plus three parts", async () => {
    api.store = false;
    const sizes = [1 * MiB, 200 * MiB];
    const peaks: number[] = [];
    for (const size of sizes) {
      const path = join(dir, `sparse-${size}.wav`);
      const handle = await open(path, "w");
      await handle.truncate(size);
      await handle.close();
      peaks.push(await peakMemoryOfUpload(path));
    }
    const [small, large] = peaks as [number, number];
    expect(api.uploads.size).toBe(2);
    expect([...api.uploads.values()].every((u) => u.completed)).toBe(true);
    // Three 5 MiB part buffers in flight, and room for what the runtime does differently on a longer run.
    expect(large - small).toBeLessThan(3 * 5 * MiB + 8 * MiB);
  }, 30_000);
});

describe("isLoopbackApi", () => {
  it("is true for the local stack's addresses only", () => {
    for (const url of ["http://127.0.0.1:8787", "http://localhost:8787/", "http://[::1]:8787", "http://127.1.2.3"]) expect(isLoopbackApi(url)).toBe(true);
    for (const url of ["https://api.longscribe.dev", "http://10.0.0.2:8787", "http://localhost.example.com"]) expect(isLoopbackApi(url)).toBe(false);
  });
});
