import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CliIo } from "../cli/cli-io.ts";
import type { JobStatus, Progress, TranscriptionJob } from "../shared/api.ts";
import { renderTranscript, type TranscriptFormat } from "../shared/formats/render.ts";
import type { LiveSegment } from "../shared/live-transcript.ts";
import { closeLocal, listenLocal } from "./support/local-server.ts";
import { runCli } from "./support/run-cli.ts";

const KEY = "lsk_test_secret_0123456789";

const seg = (start: number, text: string, end = start + 2.5): LiveSegment => ({
  start_sec: start,
  end_sec: end,
  text,
  language: "en",
  bcp47: "en",
  avg_logprob: -0.2,
  no_speech_prob: 0.01,
});
const progress = (done: number, active = 1): Progress => ({
  audio_sec_done: done,
  audio_sec_total: 120,
  ranges_done: 0,
  ranges_total: 2,
  ranges_active: active,
});

/** Events as the edge writes them (edge/routes/job-events.ts). */
const sse = {
  retry: (ms: number) => `retry: ${ms}\n\n`,
  status: (status: JobStatus, error?: { code: string; message: string }) =>
    `event: status\ndata: ${JSON.stringify({ status, ...(error ? { error } : {}) })}\n\n`,
  progress: (p: Progress) => `event: progress\ndata: ${JSON.stringify(p)}\n\n`,
  segments: (id: number | undefined, ...segments: LiveSegment[]) =>
    `${id === undefined ? "" : `id: ${id}\n`}event: segments\ndata: ${JSON.stringify({ segments })}\n\n`,
  replace: (id: number, range_index: number, start_sec: number, end_sec: number) =>
    `id: ${id}\nevent: replace\ndata: ${JSON.stringify({ range_index, start_sec, end_sec })}\n\n`,
  keepAlive: ": keep-alive\n\n",
};

/** One connection to the event stream: what it writes, then whether the server closes it or the network drops it. */
interface Connection {
  chunks: string[];
  end: "close" | "drop";
}

interface FakeJob {
  status: JobStatus;
  /** The transcript at the end, for the transcript route. */
  segments: LiveSegment[];
  error?: { code: string; message: string };
  connections: Connection[];
}

/** A stand-in for the API with the live-events route: each job answers its scripted connections in turn. */
class FakeSseApi {
  url = "";
  jobs = new Map<string, FakeJob>();
  /** Last-Event-ID of each connection, null when none was sent. */
  lastEventIds: Array<string | null> = [];
  requests: string[] = [];
  private server: Server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<void> {
    this.url = await listenLocal(this.server);
  }

  close(): Promise<void> {
    return closeLocal(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== `Bearer ${KEY}`) return json(res, 401, { error: { code: "unauthorized", message: "Invalid API key." } });
    const [, , , id, action] = url.pathname.split("/");
    if (req.method === "POST" && id === undefined) {
      const created = this.jobs.get("tr_new");
      if (!created) return json(res, 500, { error: { code: "unscripted", message: "no tr_new scripted" } });
      return json(res, 202, {
        id: "tr_new",
        status: "queued",
        status_url: `${this.url}/v1/transcriptions/tr_new`,
        transcript_url: `${this.url}/v1/transcriptions/tr_new/transcript`,
        created_at: "2025-01-01T00:00:00.000Z",
      });
    }
    const job = this.jobs.get(id ?? "");
    if (!job) return json(res, 404, { error: { code: "not_found", message: `no transcription ${id}` } });
    if (action === "events") {
      const connection = job.connections.shift();
      if (!connection) return json(res, 404, { error: { code: "not_found", message: "no route" } });
      const last = req.headers["last-event-id"];
      this.lastEventIds.push(typeof last === "string" ? last : null);
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
      for (const chunk of connection.chunks) {
        // In two writes, so that the client sees events split across reads.
        const cut = Math.floor(chunk.length / 2);
        res.write(chunk.slice(0, cut));
        await pause(2);
        res.write(chunk.slice(cut));
        await pause(2);
      }
      if (connection.end === "close") res.end();
      else res.socket?.destroy();
      return;
    }
    if (action === "transcript") {
      const format = (url.searchParams.get("format") ?? "json") as TranscriptFormat;
      if (job.status !== "completed" && url.searchParams.get("partial") !== "true") {
        return json(res, 409, { error: { code: "not_ready", message: "the transcript is not ready" } });
      }
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(await rendered(format, job.segments));
      return;
    }
    if (action === undefined) return json(res, 200, jobView(id!, job));
    json(res, 405, { error: { code: "method_not_allowed", message: `${req.method} ${url.pathname}` } });
  }
}

/** The transcript as the edge renders it, from the same segments. */
async function rendered(format: TranscriptFormat, segments: LiveSegment[]): Promise<string> {
  const source = async function* () {
    for (const s of segments) yield { ...s, avg_logprob: s.avg_logprob ?? 0, no_speech_prob: s.no_speech_prob ?? 0 };
  };
  let out = "";
  for await (const piece of renderTranscript(format, { language: "en", audio_duration_sec: 120 }, source)) out += piece;
  return out;
}

function jobView(id: string, job: FakeJob): TranscriptionJob {
  return {
    id,
    object: "transcription",
    status: job.status,
    audio_url: "https://media.test/talk.mp3",
    created_at: "2025-01-01T00:00:00.000Z",
    options: { language: "auto", macro_chunk_sec: 300, micro_chunk_sec: 30, word_timestamps: false },
    progress: progress(120, 0),
    ...(job.error ? { error: job.error } : {}),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const api = new FakeSseApi();
const tmp = mkdtempSync(join(tmpdir(), "longscribe-follow-"));

const cli = (args: string[], io: Partial<CliIo> = {}) => runCli([...args, "--api", api.url, "--key", KEY], tmp, io);

const [A, B, C, D, E] = [seg(0, "And so,"), seg(2.5, "my fellow Americans,"), seg(5, "ask not"), seg(7.5, "what your country"), seg(10, "can do for you.")];
const C2 = seg(5, "ask not, redone");

/**
 * The story of one job: a merge in two pages (the id on the second), a
 * connection that drops halfway through the next merge, so that the resumed
 * one (Last-Event-ID 2) sends that merge whole, a range redone, and the end.
 */
function droppedAndRedone(): FakeJob {
  return {
    status: "completed",
    segments: [A, B, C2, D, E],
    connections: [
      {
        chunks: [sse.retry(10), sse.status("running"), sse.progress(progress(0)), sse.segments(undefined, A), sse.segments(1, B), sse.progress(progress(5))],
        end: "close",
      },
      { chunks: [sse.status("running"), sse.progress(progress(5)), sse.segments(2, C), sse.progress(progress(7.5)), sse.segments(undefined, D)], end: "drop" },
      {
        chunks: [
          sse.status("running"),
          sse.progress(progress(7.5)),
          sse.keepAlive,
          sse.segments(undefined, D),
          sse.segments(3, E),
          sse.progress(progress(12.5)),
          sse.replace(4, 1, 5, 7.5),
          sse.segments(5, C2),
          sse.progress(progress(120, 0)),
          sse.status("completed"),
        ],
        end: "close",
      },
    ],
  };
}

beforeAll(() => api.start());
beforeEach(() => {
  api.jobs.clear();
  api.lastEventIds = [];
  api.requests = [];
});
afterAll(async () => {
  await api.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("longscribe follow", () => {
  it("jsonl: each segment and replace as it comes, across dropped connections resumed after the last id", async () => {
    api.jobs.set("tr_1", droppedAndRedone());
    const { code, stdout, stderr } = await cli(["follow", "tr_1", "--format", "jsonl"]);
    expect(code, stderr).toBe(0);
    // The first connection closed after merge 1, the second broke off inside merge 3.
    expect(api.lastEventIds).toEqual([null, "1", "2"]);
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([A, B, C, D, E, { replace: { range_index: 1, start_sec: 5, end_sec: 7.5 } }, C2]);
    // Progress went to stderr, a plain line per change off a terminal.
    expect(stderr).toMatch(/^running 00:00 \/ 02:00 \(0\.0%\)/m);
    expect(stderr).toMatch(/^completed 02:00 \/ 02:00 \(100\.0%\)/m);
    // Nothing but the stream: no polling, no transcript.
    expect(api.requests.filter((r) => !r.endsWith("/events"))).toEqual([]);
  });

  it("srt: numbered cues in time order; a replace of printed cues is noted on stderr and the numbering goes on", async () => {
    api.jobs.set("tr_1", droppedAndRedone());
    const { code, stdout, stderr } = await cli(["follow", "tr_1", "--format", "srt"]);
    expect(code, stderr).toBe(0);
    expect(stdout).toBe(
      [
        "1\n00:00:00,000 --> 00:00:02,500\nAnd so,\n\n",
        "2\n00:00:02,500 --> 00:00:05,000\nmy fellow Americans,\n\n",
        "3\n00:00:05,000 --> 00:00:07,500\nask not\n\n",
        "4\n00:00:07,500 --> 00:00:10,000\nwhat your country\n\n",
        "5\n00:00:10,000 --> 00:00:12,500\ncan do for you.\n\n",
        "6\n00:00:05,000 --> 00:00:07,500\nask not, redone\n\n",
      ].join(""),
    );
    expect(stderr).toContain(
      "note: range 1 (00:05–00:08) is being redone: 1 segment printed above is taken back; what replaces it prints as it comes; cue numbers go on from the last printed",
    );
  });

  it("text: a line per segment; a failed job ends it with exit 1 and the job's error", async () => {
    api.jobs.set("tr_1", droppedAndRedone());
    const ok = await cli(["follow", "tr_1"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("And so,\nmy fellow Americans,\nask not\nwhat your country\ncan do for you.\nask not, redone\n");

    const error = { code: "media_unreadable", message: "could not decode the audio at 00:07" };
    api.jobs.set("tr_2", {
      status: "failed",
      segments: [A],
      error,
      connections: [{ chunks: [sse.status("running"), sse.segments(1, A), sse.progress(progress(2.5)), sse.status("failed", error)], end: "close" }],
    });
    const failed = await cli(["follow", "tr_2"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("And so,\n");
    expect(failed.stderr).toContain("error media_unreadable: could not decode the audio at 00:07");
  });

  it("holds segments while several ranges are at work, and prints them in time order once none is", async () => {
    api.jobs.set("tr_1", {
      status: "completed",
      segments: [A, B, D, E],
      connections: [
        {
          chunks: [
            sse.status("running"),
            sse.segments(1, A),
            sse.progress(progress(2.5, 2)),
            sse.segments(2, D),
            sse.progress(progress(5, 2)),
            sse.segments(3, B),
            sse.progress(progress(7.5, 1)),
            sse.segments(4, E),
            sse.progress(progress(120, 0)),
            sse.status("completed"),
          ],
          end: "close",
        },
      ],
    });
    const { stdout } = await cli(["follow", "tr_1", "--format", "srt"]);
    expect(stdout).toBe(await rendered("srt", [A, B, D, E]));
  });

  it("a finished job's stream that gives only its status: the transcript is read once, whole", async () => {
    api.jobs.set("tr_1", { status: "completed", segments: [A, B], connections: [{ chunks: [sse.status("completed")], end: "close" }] });
    const { code, stdout } = await cli(["follow", "tr_1", "--format", "vtt"]);
    expect(code).toBe(0);
    expect(stdout).toBe(await rendered("vtt", [A, B]));
    expect(api.requests.filter((r) => r.includes("/transcript?"))).toEqual(["GET /v1/transcriptions/tr_1/transcript?format=verbose_json"]);
  });

  it("an API without the event stream: waits by polling, then prints the transcript; an unknown job is an error", async () => {
    api.jobs.set("tr_1", { status: "completed", segments: [A, B], connections: [] });
    const { code, stdout } = await cli(["follow", "tr_1"]);
    expect(code).toBe(0);
    expect(stdout).toBe("And so,\nmy fellow Americans,\n");
    expect(api.requests).toEqual([
      "GET /v1/transcriptions/tr_1/events",
      "GET /v1/transcriptions/tr_1",
      "GET /v1/transcriptions/tr_1/transcript?format=verbose_json",
    ]);
    const missing = await cli(["follow", "tr_nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("error not_found: no transcription tr_nope\n");
  });

  it("checks --format before anything is sent", async () => {
    const { code, stderr } = await cli(["follow", "tr_1", "--format", "json"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--format must be one of text, srt, vtt, jsonl, not "json"/);
    expect(api.requests).toEqual([]);
  });

  it("on a terminal, clears the progress bar before each printed line and draws it again after", async () => {
    api.jobs.set("tr_1", droppedAndRedone());
    let screen = "";
    const { code } = await cli(["follow", "tr_1"], {
      isTTY: true,
      stdout: { write: (t: string) => (screen += t), isTTY: true },
      stderr: { write: (t: string) => (screen += t) },
    });
    expect(code).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line escape.
    expect(screen).toMatch(/\r\x1b\[KAnd so,\nmy fellow Americans,\n\r(running|completed) \[/);
  });
});

describe("longscribe transcribe --wait, streaming", () => {
  for (const format of ["text", "srt", "vtt"] as const) {
    it(`prints ${format} as segments come, ending with exactly what the transcript route returns`, async () => {
      const job = droppedAndRedone();
      // No range redone: the printed transcript must be the final one.
      job.segments = [A, B, C, D, E];
      job.connections[2]!.chunks = job.connections[2]!.chunks.filter((c) => !c.includes("replace") && !c.includes("redone"));
      api.jobs.set("tr_new", job);
      const { code, stdout, stderr } = await cli(["transcribe", "https://media.test/talk.mp3", "--wait", "--format", format]);
      expect(code, stderr).toBe(0);
      expect(stdout).toBe(await rendered(format, job.segments));
      expect(api.requests.filter((r) => r.includes("/transcript?"))).toEqual([]);
      expect(stderr).toMatch(/^id\s+tr_new$/m);
    });
  }

  it("after a redone range, says where the final transcript is; json still waits and prints the final one", async () => {
    api.jobs.set("tr_new", droppedAndRedone());
    const redone = await cli(["transcribe", "https://media.test/talk.mp3", "--wait", "--format", "srt"]);
    expect(redone.code).toBe(0);
    expect(redone.stderr).toContain(`the final one is at ${api.url}/v1/transcriptions/tr_new/transcript?format=srt`);

    api.jobs.set("tr_new", droppedAndRedone());
    api.requests = [];
    const asJson = await cli(["transcribe", "https://media.test/talk.mp3", "--wait", "--format", "json"]);
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ segments: [{ text: "And so," }, {}, { text: "ask not, redone" }, {}, {}] });
    expect(api.requests.some((r) => r.endsWith("/events"))).toBe(false);
  });
});
