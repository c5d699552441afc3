import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CliIo } from "../cli/cli-io.ts";
import type { JobStatus, TranscriptionJob } from "../shared/api.ts";
import { REPO_ROOT } from "./support/shared-data.ts";
import { closeLocal, listenLocal } from "./support/local-server.ts";
import { runCli } from "./support/run-cli.ts";

const KEY = "lsk_test_secret_0123456789";
const SRT = "1\n00:00:00,000 --> 00:00:02,500\nAnd so, my fellow Americans\n\n";

interface StandInJob {
  id: string;
  audio_url: string;
  polls: number;
  canceled: boolean;
}

/**
 * A stand-in for the public API: each GET of a job moves it one step along
 * queued (twice) → running 25% → running 75% (twice, with a new ETA) → completed, or
 * failed when its audio_url says "fail". Loopback media is read the way the
 * edge reads it: a one-byte Range request that must answer 206.
 */
class StandInApi {
  url = "";
  jobs = new Map<string, StandInJob>();
  authorizations: string[] = [];
  transcriptFormats: string[] = [];
  rangeStatuses: number[] = [];
  refuseLoopback = false;
  stall = false;
  /** GETs of a job to answer by dropping the connection, as a network blip would. */
  dropGets = 0;
  cancels = 0;
  private server: Server = createServer(
    (req, res) => void this.handle(req, res).catch((e: unknown) => send(res, 500, { error: { code: "stand_in", message: String(e) } })),
  );

  async start(): Promise<void> {
    this.url = await listenLocal(this.server);
  }

  close(): Promise<void> {
    return closeLocal(this.server);
  }

  reset(): void {
    Object.assign(this, {
      jobs: new Map(),
      authorizations: [],
      transcriptFormats: [],
      rangeStatuses: [],
      refuseLoopback: false,
      stall: false,
      dropGets: 0,
      cancels: 0,
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = req.headers.authorization ?? "";
    this.authorizations.push(auth);
    if (!["lsk_dev_first", KEY].includes(auth.replace(/^Bearer /, ""))) return send(res, 401, { error: { code: "unauthorized", message: "Invalid API key." } });
    const url = new URL(req.url ?? "/", this.url);
    const [, v1, collection, id, action] = url.pathname.split("/");
    if (v1 !== "v1" || collection !== "transcriptions") return send(res, 404, { error: { code: "not_found", message: "no route" } });

    if (req.method === "POST" && id === undefined) {
      const body = JSON.parse(await readBody(req)) as { audio_url: string };
      const loopback = body.audio_url.startsWith("http://127.0.0.1:");
      if (loopback && this.refuseLoopback) {
        return send(res, 422, {
          error: { code: "url_not_allowed", message: "audio_url: 127.0.0.1 is a loopback address; only public internet addresses are allowed" },
        });
      }
      if (loopback) await this.readRange(body.audio_url);
      const job: StandInJob = { id: `tr_${this.jobs.size + 1}`, audio_url: body.audio_url, polls: 0, canceled: false };
      this.jobs.set(job.id, job);
      const statusUrl = `${this.url}/v1/transcriptions/${job.id}`;
      return send(res, 202, {
        id: job.id,
        status: "queued",
        status_url: statusUrl,
        transcript_url: `${statusUrl}/transcript`,
        created_at: "2025-01-01T00:00:00.000Z",
      });
    }
    const job = this.jobs.get(id ?? "");
    if (!job) return send(res, 404, { error: { code: "not_found", message: `no transcription ${id}` } });
    if (req.method === "GET" && action === undefined) {
      if (this.dropGets > 0) {
        this.dropGets--;
        req.socket.destroy();
        return;
      }
      if (!this.stall) job.polls++;
      if (job.audio_url.startsWith("http://127.0.0.1:") && !job.canceled) await this.readRange(job.audio_url);
      return send(res, 200, view(job));
    }
    if (req.method === "POST" && action === "cancel") {
      this.cancels++;
      job.canceled = true;
      return send(res, 200, view(job));
    }
    if (req.method === "GET" && action === "transcript") {
      const format = url.searchParams.get("format") ?? "json";
      this.transcriptFormats.push(format);
      if (view(job).status !== "completed") return send(res, 409, { error: { code: "not_ready", message: "the transcript is not ready" } });
      const text = { srt: SRT, text: "And so, my fellow Americans\n" }[format];
      if (text === undefined) return send(res, 400, { error: { code: "invalid_request", message: `unexpected format ${format}` } });
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(text);
      return;
    }
    send(res, 405, { error: { code: "method_not_allowed", message: `${req.method} ${url.pathname}` } });
  }

  private async readRange(audioUrl: string): Promise<void> {
    const response = await fetch(audioUrl, { headers: { range: "bytes=0-0" } });
    await response.arrayBuffer();
    this.rangeStatuses.push(response.status);
  }
}

function view(job: StandInJob): TranscriptionJob {
  const fails = job.audio_url.includes("fail");
  // Indexed by the number of GETs so far (0 only while stalled).
  const steps: Array<[JobStatus, number, number, number | undefined]> = [
    ["queued", 0, 0, undefined],
    ["queued", 0, 0, undefined],
    ["queued", 0, 0, undefined],
    ["running", 30, 1, 40],
    ["running", 90, 3, 20],
    ["running", 90, 3, 10],
    [fails ? "failed" : "completed", fails ? 90 : 120, fails ? 3 : 4, undefined],
  ];
  const [status, done, ranges, eta] = job.canceled ? (["canceled", 30, 1, undefined] as const) : steps[Math.min(job.polls, steps.length - 1)]!;
  return {
    id: job.id,
    object: "transcription",
    status,
    audio_url: job.audio_url,
    created_at: "2025-01-01T00:00:00.000Z",
    options: { language: "auto", macro_chunk_sec: 300, micro_chunk_sec: 30, word_timestamps: false },
    progress: {
      audio_sec_done: done,
      audio_sec_total: status === "queued" ? 0 : 120,
      ranges_done: ranges,
      ranges_total: status === "queued" ? 0 : 4,
      ranges_active: status === "running" ? 1 : 0,
      ...(eta === undefined ? {} : { eta_sec: eta }),
    },
    ...(status === "completed"
      ? {
          usage: {
            machine_sec: 6,
            cost_usd: 0.0012,
            speedup: 20,
            machines: [
              { provider: "runpod", machine_type: "NVIDIA L4", price_per_hour_usd: 0.43, machine_sec: 6, cost_usd: 0.0012, plan: true, ranges: [0, 1] },
            ],
          },
          completed_at: "2025-01-01T00:01:00.000Z",
        }
      : {}),
    ...(status === "failed" ? { error: { code: "media_unreadable", message: "could not decode the audio at 01:30" } } : {}),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

const api = new StandInApi();
const tmp = mkdtempSync(join(tmpdir(), "longscribe-cli-"));

const cli = (args: string[], io: Partial<CliIo> = {}) => runCli(args, tmp, io);

const withApi = (...args: string[]) => [...args, "--api", api.url, "--key", KEY];

beforeAll(() => api.start());
beforeEach(() => api.reset());
afterAll(async () => {
  await api.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("longscribe transcribe", () => {
  it("waits, shows plain progress lines off a TTY, and writes the SRT to --out", async () => {
    const out = join(tmp, "talk.srt");
    const { code, stdout, stderr } = await cli(withApi("transcribe", "https://media.test/talk.mp3", "--wait", "--format", "srt", "--out", out));
    expect(stderr).toBe(stderr.replace(/\r/g, ""));
    expect(code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(SRT);
    expect(api.transcriptFormats).toEqual(["srt"]);
    expect(stdout).toBe("");
    const lines = stderr.split("\n");
    expect(lines).toContain("queued --:-- / --:-- (0.0%), ETA --:--, ranges 0/0");
    expect(lines).toContain("running 00:30 / 02:00 (25.0%), ETA 00:40, ranges 1/4");
    expect(lines).toContain("running 01:30 / 02:00 (75.0%), ETA 00:20, ranges 3/4");
    expect(lines.some((l) => l.startsWith("completed 02:00 / 02:00 (100.0%)"))).toBe(true);
    // Two identical queued polls and a poll where only the ETA moved print nothing new.
    expect(lines.filter((l) => l.startsWith("queued"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("01:30 / 02:00"))).toHaveLength(1);
    expect(stderr).toMatch(/^id\s+tr_1$/m);
    expect(stderr).toContain(`${api.url}/v1/transcriptions/tr_1`);
  });

  it("redraws one bar in place on a TTY and prints the transcript to stdout", async () => {
    const { code, stdout, stderr } = await cli(withApi("transcribe", "https://media.test/talk.mp3", "--wait", "--format", "text"), {
      isTTY: true,
      columns: 100,
    });
    expect(code).toBe(0);
    expect(stdout).toBe("And so, my fellow Americans\n");
    const redraws = stderr.split("\r").slice(1);
    expect(redraws.length).toBeGreaterThanOrEqual(5);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the line ends with the terminal's erase-to-end-of-line escape.
    expect(redraws[2]).toMatch(/^running \[█+░+\] 00:30 \/ 02:00 \(25\.0%\) {2}ETA 00:40 {2}ranges 1\/4\x1b\[K$/);
    expect(stderr.endsWith("\x1b[K\n")).toBe(true);
  });

  it("waits out a few polls that reach nothing, but not an API that stays away", async () => {
    api.dropGets = 3;
    const out = join(tmp, "blip.txt");
    expect((await cli(withApi("transcribe", "https://media.test/talk.mp3", "--wait", "--out", out))).code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("And so, my fellow Americans\n");
    api.dropGets = 100;
    const { code, stderr } = await cli(withApi("transcribe", "https://media.test/talk.mp3", "--wait"), { pollMs: 1 });
    expect(code).toBe(1);
    expect(stderr).toMatch(/error: cannot reach the API at .*npm start/);
  });

  it("ends non-zero with the job's error code and message when the job fails", async () => {
    const { code, stderr } = await cli(withApi("transcribe", "https://media.test/fail.mp3", "--wait"));
    expect(code).toBe(1);
    expect(stderr).toContain("error media_unreadable: could not decode the audio at 01:30");
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(api.transcriptFormats).toEqual([]);
  });

  it("without --wait prints the id and status URL and says --format/--out went unused", async () => {
    const { code, stdout, stderr } = await cli(withApi("transcribe", "https://media.test/talk.mp3", "--format", "srt"));
    expect(code).toBe(0);
    expect(stdout).toBe(`id          tr_1\nstatus      queued\nstatus_url  ${api.url}/v1/transcriptions/tr_1\n`);
    expect(stderr).toMatch(/note: --format and --out apply only with --wait/);
    expect(api.jobs.get("tr_1")!.polls).toBe(0);
  });

  it("serves a local file with byte ranges until the job ends, waiting without --wait", async () => {
    const file = join(tmp, "local talk.wav");
    writeFileSync(file, Buffer.alloc(4096, 7));
    const { code, stdout, stderr } = await cli(withApi("transcribe", file, "--format", "srt"));
    expect(code).toBe(0);
    expect(stdout).toBe(SRT);
    const audioUrl = api.jobs.get("tr_1")!.audio_url;
    expect(audioUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/local%20talk\.wav$/);
    // Read at creation and on every poll, the last one being the poll that saw it complete.
    expect(api.rangeStatuses.length).toBe(7);
    expect(new Set(api.rangeStatuses)).toEqual(new Set([206]));
    expect(stderr).toContain(`serving ${file}`);
    await expect(fetch(audioUrl)).rejects.toThrow(); // closed once the job ended
  });

  it("explains that only the local stack accepts a local file", async () => {
    api.refuseLoopback = true;
    const file = join(tmp, "refused.wav");
    writeFileSync(file, Buffer.alloc(64, 1));
    const { code, stderr } = await cli(withApi("transcribe", file));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error url_not_allowed: audio_url: 127\.0\.0\.1 is a loopback address/m);
    expect(stderr).toMatch(/only the local stack accepts: start it with `npm start`/);
  });

  it("cancels a local file's job on Ctrl-C, since the file stops being served", async () => {
    api.stall = true;
    const file = join(tmp, "stalled.wav");
    writeFileSync(file, Buffer.alloc(64, 1));
    const interrupt = new AbortController();
    const stderr = { write: (t: string) => (t.startsWith("queued") ? interrupt.abort() : undefined) };
    const { code } = await cli(withApi("transcribe", file), { stderr, signal: interrupt.signal });
    expect(code).toBe(130);
    expect(api.cancels).toBe(1);
  });

  it("reports a 401 with where the key came from, never the key", async () => {
    const { code, stdout, stderr } = await cli(["status", "tr_1", "--api", api.url, "--key", "lsk_wrong_secret"]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error unauthorized: Invalid API key\.\n.*the key came from --key/);
    expect(stdout + stderr).not.toContain("lsk_wrong_secret");
  });
});

describe("longscribe status and cancel", () => {
  beforeEach(async () => {
    await cli(withApi("transcribe", "https://media.test/talk.mp3"));
  });

  it("status prints readable lines, or the raw job with --json", async () => {
    api.jobs.get("tr_1")!.polls = 2;
    const { code, stdout } = await cli(withApi("status", "tr_1"));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^id\s+tr_1$/m);
    expect(stdout).toMatch(/^status\s+running$/m);
    expect(stdout).toMatch(/^progress\s+00:30 \/ 02:00 \(25\.0%\), ranges 1\/4, ETA 00:40$/m);
    api.jobs.get("tr_1")!.polls = 2;
    const json = await cli(withApi("status", "tr_1", "--json"));
    expect(JSON.parse(json.stdout)).toMatchObject({ id: "tr_1", status: "running", progress: { audio_sec_done: 30 } });
  });

  it("status shows usage once completed and the error once failed", async () => {
    api.jobs.get("tr_1")!.polls = 9;
    const { stdout } = await cli(withApi("status", "tr_1"));
    expect(stdout).toMatch(/^usage\s+6\.0 machine s, \$0\.0012, 20\.0× real time$/m);
    expect(stdout).toMatch(/^machines\s+runpod NVIDIA L4 \(plan, 2 ranges, \$0\.0012\)$/m);
    await cli(withApi("transcribe", "https://media.test/fail.mp3"));
    api.jobs.get("tr_2")!.polls = 9;
    expect((await cli(withApi("status", "tr_2"))).stdout).toMatch(/^error\s+media_unreadable: could not decode the audio at 01:30$/m);
  });

  it("cancel prints the resulting status", async () => {
    const { code, stdout } = await cli(withApi("cancel", "tr_1"));
    expect(code).toBe(0);
    expect(stdout).toBe("tr_1 canceled\n");
    expect(api.cancels).toBe(1);
  });

  it("an unknown id is an API error, exit 1", async () => {
    const { code, stderr } = await cli(withApi("status", "tr_nope"));
    expect(code).toBe(1);
    expect(stderr).toBe("error not_found: no transcription tr_nope\n");
  });

  it("takes --api and the key from the environment, then the key from ./.dev.vars", async () => {
    expect((await cli(["status", "tr_1"], { env: { LONGSCRIBE_API: api.url, LONGSCRIBE_API_KEY: KEY } })).code).toBe(0);
    const project = mkdtempSync(join(tmp, "project-"));
    writeFileSync(join(project, ".dev.vars"), 'WEBHOOK_SIGNING_KEY="x"\nAPI_KEYS="lsk_dev_first,lsk_dev_second"\n');
    const { code } = await cli(["status", "tr_1"], { env: { LONGSCRIBE_API: api.url }, cwd: project });
    expect(code).toBe(0);
    expect(api.authorizations.at(-1)).toBe("Bearer lsk_dev_first");
  });
});

describe("longscribe usage and reachability", () => {
  it.each([
    [[], /give a command/],
    [["transcribe"], /give exactly one media URL or file/],
    [["transcribe", "/nonexistent/talk.mp3"], /neither an http\(s\) URL nor a file that exists/],
    [["transcribe", "https://media.test/a.mp3", "--format", "docx"], /--format must be one of json, verbose_json, text, srt, vtt/],
    [["transcribe", "https://media.test/a.mp3", "--language", "klingon"], /--language klingon is not a language Whisper knows/],
    [["status", "tr_1", "--bogus"], /Unknown option '--bogus'/],
    [["delete", "tr_1"], /unknown command "delete"/],
  ])("%j exits 2 with what to do and the usage", async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/usage:\n {2}longscribe transcribe <url\|file>/);
    expect(api.authorizations).toEqual([]);
  });

  it("says to start the stack when nothing answers", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { code, stderr } = await cli(["status", "tr_1", "--api", `http://127.0.0.1:${port}`, "--key", KEY]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `error: cannot reach the API at http://127.0.0.1:${port} (ECONNREFUSED): is the stack running? start it with \`npm start\`, or pass --api URL\n`,
    );
  });

  it("bin/longscribe.mjs runs the CLI from any working directory", async () => {
    await cli(withApi("transcribe", "https://media.test/talk.mp3"));
    const run = promisify(execFile);
    const bin = join(REPO_ROOT, "bin", "longscribe.mjs");
    const env = { PATH: process.env.PATH ?? "" };
    const { stdout } = await run(process.execPath, [bin, ...withApi("status", "tr_1")], { cwd: tmp, env });
    expect(stdout).toMatch(/^status\s+queued$/m);
    const usage = (await run(process.execPath, [bin, "status"], { cwd: tmp, env }).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/give exactly one job id/);
  }, 15_000);
});
