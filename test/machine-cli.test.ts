import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, REPO_ROOT, sharedPath } from "./support/shared-data.ts";
import { packagedModel } from "./support/whisper-models.ts";

const run = promisify(execFile);
const shared = missingShared("data/formats/excerpt.opus");
const cli = (...args: string[]) => run(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", ...args], { cwd: REPO_ROOT });

describe.skipIf(shared.missing)("npm run machine", () => {
  let server: MediaServer;
  beforeAll(async () => {
    server = await startMediaServer({ "/excerpt.opus": { file: sharedPath("data", "formats", "excerpt.opus") } });
  });
  afterAll(() => server?.close());

  it("plan prints the plan as JSON", async () => {
    const { stdout } = await cli("plan", server.url("/excerpt.opus"), "--macro-chunk-sec", "30");
    const plan = JSON.parse(stdout);
    expect(plan).toMatchObject({ codec: "opus", container: "ogg", sampleRate: 48000, channels: 1, durationSource: "container" });
    expect(plan.ranges).toHaveLength(3);
  }, 30_000);

  it("chunks prints one line per micro chunk and a final line with bytes read", async () => {
    server.reset();
    const { stdout } = await cli("chunks", server.url("/excerpt.opus"), "--from", "10", "--to", "60", "--no-vad");
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const last = lines.pop();
    expect(last.bytesRead).toBe(server.bytesSent("/excerpt.opus"));
    expect(lines[0]).toMatchObject({ rangeIndex: 0, seq: 0, startSec: 10 });
    expect(lines.at(-1).endSec).toBe(60);
    expect(lines.every((l) => !("samples" in l))).toBe(true);
  }, 30_000);

  it("transcribe prints the API's json shape with absolute times and stats, from a URL", async () => {
    const { stdout } = await cli("transcribe", server.url("/excerpt.opus"), "--model", await packagedModel("tiny"), "--language", "en", "--batch", "4");
    const out = JSON.parse(stdout);
    expect(out.language).toBe("en");
    expect(out.audio_duration_sec).toBeCloseTo(70.66, 1);
    expect(out.segments.length).toBeGreaterThan(5);
    expect(out.segments[0]).toEqual({ start_sec: expect.any(Number), end_sec: expect.any(Number), text: expect.any(String), language: "en", bcp47: "en" });
    expect(out.segments.at(-1).start_sec).toBeGreaterThan(50); // absolute, not per chunk
    for (let i = 1; i < out.segments.length; i++) expect(out.segments[i].start_sec).toBeGreaterThanOrEqual(out.segments[i - 1].start_sec);
    expect(out.text.length).toBeGreaterThan(300);
    expect(out.stats).toMatchObject({ audio_sec: expect.any(Number), wall_sec: expect.any(Number), rtf: expect.any(Number), model: "whisper-tiny" });
  }, 120_000);

  it("transcribe reads a local file and prints SRT", async () => {
    const { stdout } = await cli("transcribe", sharedPath("data", "speech", "jfk", "jfk.wav"), "--model", await packagedModel("tiny"), "--format", "srt");
    expect(stdout).toMatch(/^1\n00:00:00,\d{3} --> 00:00:(0|1)\d,\d{3}\n.*fellow Americans/s);
  }, 120_000);

  it("transcribe explains a bad language, format or model directory", async () => {
    const fail = async (...args: string[]) =>
      (await cli("transcribe", sharedPath("data", "speech", "jfk", "jfk.wav"), ...args).catch((e: unknown) => e)) as { code: number; stderr: string };
    const language = await fail("--language", "klingon");
    expect(language.code).toBe(2);
    expect(language.stderr).toMatch(/--language klingon is not a language Whisper knows/);
    expect((await fail("--format", "docx")).stderr).toMatch(/--format must be one of json, text, srt, vtt/);
    expect((await fail("--speakers", "2")).stderr).toMatch(/--speakers needs --diarize/);
    expect((await fail("--diarize", "--min-speakers", "3", "--max-speakers", "2")).stderr).toMatch(/--min-speakers \(3\) is above --max-speakers \(2\)/);
    expect((await fail("--diarize", "--speakers", "0")).stderr).toMatch(/--speakers needs a whole number from 1 to 32/);
    const model = await fail("--model", "/nonexistent/whisper");
    expect(model.code).toBe(1);
    expect(model.stderr).toMatch(/\/nonexistent\/whisper: model directory not found/);
  }, 60_000);

  it("says what to do on bad usage", async () => {
    const error = (await cli("chunks", "/tmp/file.mp3").catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(error.code).toBe(2);
    expect(error.stderr).toMatch(/not an http\(s\) URL/);
    expect(error.stderr).toMatch(/usage:/);
  }, 30_000);
});
