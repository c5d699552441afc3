import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Task } from "../../shared/protocol.ts";
import { seg } from "../job/job-fixtures.ts";
import { BASE, call, KEY_A } from "../test-helpers.ts";
import { claimFor, media, post } from "./machine-test-helpers.ts";

/** A form as OpenAI's SDKs send it. */
function form(fields: Record<string, string | string[]>, file: Blob | null = new Blob([new Uint8Array(2000)], { type: "audio/mpeg" })): FormData {
  const f = new FormData();
  if (file) f.set("file", file, "talk.mp3");
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) f.append(k, one);
  return f;
}

function send(route: "transcriptions" | "translations", body: FormData, key: string | null = KEY_A): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/audio/${route}`, { method: "POST", headers: key === null ? {} : { authorization: `Bearer ${key}` }, body });
}

async function openAiError(r: Response): Promise<{ status: number; type: string; code: string; param: string | null }> {
  const body = (await r.json()) as { error: { message: string; type: string; code: string; param: string | null } };
  expect(body.error.message.length).toBeGreaterThan(0);
  return { status: r.status, type: body.error.type, code: body.error.code, param: body.error.param };
}

/** Plays the machine for the one job the route made: one range, two segments with words. */
async function transcribeAs(jobId: string): Promise<Task> {
  const plan = await claimFor(jobId, "plan");
  expect((await post(plan, "complete", { machine_sec: 1, plan: { duration_sec: 20, ranges: [{ start_sec: 0, end_sec: 20 }], media } })).status).toBe(200);
  const range = await claimFor(jobId, "range");
  const words = (s: number, text: string) => text.split(" ").map((w, i) => ({ word: ` ${w}`, start_sec: s + i, end_sec: s + i + 0.8, probability: 0.9 }));
  const segments = [
    { ...seg(0.5, 4, "Hello there."), words: words(0.5, "Hello there.") },
    { ...seg(5, 9.25, "General Kenobi."), words: words(5, "General Kenobi.") },
  ];
  expect((await post(range, "segments", { seq: 0, segments, audio_sec_done: 20, language_sec: { en: 20 } })).status).toBe(200);
  expect((await post(range, "complete", { machine_sec: 2 })).status).toBe(200);
  return range;
}

const seen = new Set<string>();
/** The job an OpenAI request made: the newest of the key's list, not seen before. */
async function newestJob(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const list = (await (await call("GET", "/v1/transcriptions?limit=1")).json()) as { data: Array<{ id: string; metadata?: { source?: string } }> };
    const job = list.data[0];
    if (job?.metadata?.source?.startsWith("openai:") && !seen.has(job.id)) {
      seen.add(job.id);
      return job.id;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the OpenAI request made no job");
}

describe("OpenAI-compatible audio routes", () => {
  it("answers verbose_json in OpenAI's shape once the job ends, with segments and words as asked", async () => {
    const pending = send(
      "transcriptions",
      form({ model: "whisper-1", response_format: "verbose_json", "timestamp_granularities[]": ["word", "segment"], language: "en" }),
    );
    const jobId = await newestJob();
    const range = await transcribeAs(jobId);
    expect(range.options).toMatchObject({ task: "transcribe", word_timestamps: true, language: "en" });
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.headers.get("x-longscribe-transcription-id")).toBe(jobId);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ task: "transcribe", language: "english", duration: 20, text: "Hello there. General Kenobi." });
    expect(body.segments).toEqual([
      expect.objectContaining({ id: 0, seek: 50, start: 0.5, end: 4, text: " Hello there.", tokens: [], temperature: 0 }),
      expect.objectContaining({ id: 1, seek: 500, start: 5, end: 9.25, text: " General Kenobi." }),
    ]);
    expect(body.words).toEqual([
      { word: "Hello", start: 0.5, end: 1.3 },
      { word: "there.", start: 1.5, end: 2.3 },
      { word: "General", start: 5, end: 5.8 },
      { word: "Kenobi.", start: 6, end: 6.8 },
    ]);
    // A normal job: listed, done, with usage.
    const job = (await (await call("GET", `/v1/transcriptions/${jobId}`)).json()) as { status: string; upload_id?: string; usage?: unknown };
    expect(job.status).toBe("completed");
    expect(job.upload_id).toMatch(/^up_/);
    expect(job.usage).toBeDefined();
  });

  it("answers diarized_json with each segment's speaker, from a job made with diarize", async () => {
    const pending = send("transcriptions", form({ model: "whisper-1", response_format: "diarized_json", chunking_strategy: "auto" }));
    const jobId = await newestJob();
    const plan = await claimFor(jobId, "plan");
    await post(plan, "complete", { machine_sec: 1, plan: { duration_sec: 20, ranges: [{ start_sec: 0, end_sec: 20 }], media } });
    const range = await claimFor(jobId, "range");
    expect(range.options).toMatchObject({ diarize: true });
    const segments = [{ ...seg(0.5, 4, "Hello there."), speaker: "1" }, { ...seg(5, 9.25, "General Kenobi."), speaker: "0" }, seg(10, 11, "(cough)")];
    expect((await post(range, "segments", { seq: 0, segments, audio_sec_done: 20 })).status).toBe(200);
    const speakers = [
      { local: "0", vector: [1, 0], talk_sec: 4, first_sec: 5 },
      { local: "1", vector: [0, 1], talk_sec: 3, first_sec: 0.5 },
    ];
    expect((await post(range, "complete", { machine_sec: 2, speakers })).status).toBe(200);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      task: "transcribe",
      duration: 20,
      text: "Hello there. General Kenobi. (cough)",
      segments: [
        { type: "transcript.text.segment", id: "seg_000", start: 0.5, end: 4, text: "Hello there.", speaker: "S1" },
        { type: "transcript.text.segment", id: "seg_001", start: 5, end: 9.25, text: "General Kenobi.", speaker: "S2" },
        { type: "transcript.text.segment", id: "seg_002", start: 10, end: 11, text: "(cough)", speaker: "unknown" },
      ],
    });
  });

  it("answers text, srt and vtt as plain strings and json as { text }; translations say task translate", async () => {
    for (const [format, expected] of [
      ["text", "Hello there. General Kenobi.\n"],
      ["srt", "1\n00:00:00,500 --> 00:00:04,000\nHello there.\n\n2\n00:00:05,000 --> 00:00:09,250\nGeneral Kenobi.\n\n"],
      ["vtt", "WEBVTT\n\n1\n00:00:00.500 --> 00:00:04.000\nHello there.\n\n2\n00:00:05.000 --> 00:00:09.250\nGeneral Kenobi.\n\n"],
    ] as const) {
      const pending = send("transcriptions", form({ model: "whisper-1", response_format: format }));
      await transcribeAs(await newestJob());
      const r = await pending;
      expect([format, r.status, r.headers.get("content-type")]).toEqual([format, 200, "text/plain; charset=utf-8"]);
      expect(await r.text()).toBe(expected);
    }
    const json = send("transcriptions", form({ model: "whisper-1" }));
    await transcribeAs(await newestJob());
    expect(await (await json).json()).toEqual({ text: "Hello there. General Kenobi." });

    const translated = send("translations", form({ model: "whisper-1", response_format: "verbose_json" }));
    const range = await transcribeAs(await newestJob());
    expect(range.options).toMatchObject({ task: "translate" });
    expect(await (await translated).json()).toMatchObject({ task: "translate", language: "english" });
  });

  it("refuses bad requests in OpenAI's error shape, before storing anything", async () => {
    const cases: Array<[string, Promise<Response>, { status: number; type: string; code: string; param: string | null }]> = [
      [
        "an unknown model",
        send("transcriptions", form({ model: "gpt-9-audio" })),
        { status: 400, type: "invalid_request_error", code: "model_not_found", param: "model" },
      ],
      ["no model", send("transcriptions", form({})), { status: 400, type: "invalid_request_error", code: "invalid_request", param: "model" }],
      [
        "no file",
        send("transcriptions", form({ model: "whisper-1" }, null)),
        { status: 400, type: "invalid_request_error", code: "invalid_request", param: "file" },
      ],
      [
        "a response_format OpenAI lacks",
        send("transcriptions", form({ model: "whisper-1", response_format: "docx" })),
        { status: 400, type: "invalid_request_error", code: "invalid_request", param: "response_format" },
      ],
      [
        "word timestamps without verbose_json",
        send("transcriptions", form({ model: "whisper-1", "timestamp_granularities[]": "word" })),
        { status: 400, type: "invalid_request_error", code: "invalid_request", param: "timestamp_granularities" },
      ],
      [
        "temperature 3",
        send("transcriptions", form({ model: "whisper-1", temperature: "3" })),
        { status: 400, type: "invalid_request_error", code: "invalid_request", param: "temperature" },
      ],
      [
        "no API key",
        send("transcriptions", form({ model: "whisper-1" }), null),
        { status: 401, type: "authentication_error", code: "unauthorized", param: null },
      ],
    ];
    for (const [what, r, expected] of cases) expect([what, await openAiError(await r)]).toEqual([what, expected]);
  });
});
