import { spawn, type ChildProcess } from "node:child_process";
import { createReadStream } from "node:fs";
import OpenAI, { BadRequestError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wordErrorRate } from "../gpu-machine/eval/wer.ts";
import { startLocalEdge, type LocalEdge } from "./support/local-edge.ts";
import { missingShared, REPO_ROOT, readJsonl, sharedPath } from "./support/shared-data.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "./support/test-secrets.ts";
import { packagedModel } from "./support/whisper-models.ts";

const need = missingShared("data/speech/jfk/jfk.wav", "data/speech/jfk/manifest.jsonl");

/**
 * The official `openai` package as the client, against the Worker under wrangler
 * dev with one real machine: what code written for OpenAI does, unchanged but for
 * baseURL and key.
 */
describe.skipIf(need.missing)("the official openai SDK against the OpenAI-compatible routes", () => {
  let edge: LocalEdge;
  let machine: ChildProcess;
  let log = "";
  let client: OpenAI;
  const clip = () => createReadStream(sharedPath("data/speech/jfk/jfk.wav"));
  const reference = () => readJsonl<{ text: string }>(sharedPath("data/speech/jfk/manifest.jsonl"))[0]!.text;

  beforeAll(async () => {
    const model = await packagedModel("tiny");
    edge = await startLocalEdge({ API_KEYS: TEST_API_KEYS.join(","), WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY, MACHINE_TOKEN: TEST_MACHINE_TOKEN });
    machine = spawn(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", "serve", "--model", model, "--threads", "1", "--batch", "2"], {
      cwd: REPO_ROOT,
      env: { ...process.env, EDGE_URL: edge.url, MACHINE_TOKEN: TEST_MACHINE_TOKEN, MACHINE_ID: "openai-sdk", IDLE_EXIT_SEC: "900", ALLOW_PRIVATE_MEDIA: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    machine.stderr?.on("data", (d: Buffer) => (log += d.toString()));
    client = new OpenAI({ apiKey: TEST_API_KEYS[0], baseURL: `${edge.url}/v1`, timeout: 240_000, maxRetries: 0 });
  }, 120_000);

  afterAll(async () => {
    machine?.kill("SIGKILL");
    await edge?.stop();
  });

  it("verbose_json with word and segment timestamps, in OpenAI's shape", async () => {
    const started = Date.now();
    const result = await client.audio.transcriptions.create({
      file: clip(),
      model: "whisper-1",
      response_format: "verbose_json",
      timestamp_granularities: ["word", "segment"],
    });
    const { wer } = wordErrorRate([{ reference: reference(), hypothesis: result.text }]);
    console.log(`[openai-sdk] jfk.wav: WER ${(wer * 100).toFixed(1)} % (whisper-tiny), ${((Date.now() - started) / 1000).toFixed(1)} s from request to answer`);
    expect(result.language).toBe("english");
    expect(result.duration).toBeGreaterThan(10.5);
    expect(wer).toBeLessThan(0.15);
    expect(result.segments?.length).toBeGreaterThan(0);
    for (const s of result.segments ?? []) expect(s.end).toBeGreaterThanOrEqual(s.start);
    expect(result.words?.length).toBeGreaterThan(15);
    expect(result.words?.some((w) => /country/i.test(w.word))).toBe(true);
  }, 240_000);

  it("text, srt and vtt come back as strings the SDK accepts", async () => {
    const text = await client.audio.transcriptions.create({ file: clip(), model: "whisper-1", response_format: "text" });
    expect(typeof text).toBe("string");
    expect(text).toMatch(/ask not what your country/i);
    const srt = await client.audio.transcriptions.create({ file: clip(), model: "whisper-1", response_format: "srt" });
    expect(srt).toMatch(/^1\n00:00:0\d,\d{3} --> 00:00:\d\d,\d{3}\n/);
    const vtt = await client.audio.transcriptions.create({ file: clip(), model: "whisper-1", response_format: "vtt" });
    expect(vtt.startsWith("WEBVTT")).toBe(true);
  }, 480_000);

  it("a bad model and a missing file are BadRequestErrors", async () => {
    const badModel = await client.audio.transcriptions.create({ file: clip(), model: "gpt-9-audio" }).catch((e: unknown) => e);
    expect(badModel).toBeInstanceOf(BadRequestError);
    expect((badModel as BadRequestError).code).toBe("model_not_found");
    expect((badModel as BadRequestError).param).toBe("model");
    const noFile = await client.audio.transcriptions
      .create({ model: "whisper-1" } as unknown as Parameters<typeof client.audio.transcriptions.create>[0])
      .catch((e: unknown) => e);
    expect(noFile).toBeInstanceOf(BadRequestError);
    expect((noFile as BadRequestError).param).toBe("file");
  }, 60_000);
});
