import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generated, MEDIA_CACHE } from "../../test/support/media-files.ts";
import { startMediaServer, type MediaServer } from "../../test/support/media-server.ts";
import { recordRow } from "../../test/support/reliability-report.ts";
import { MediaError } from "./errors.ts";
import { plan } from "./plan.ts";

/**
 * A 1 s MP3 whose Info header claims 0x0FFFFFFF frames (ffprobe: ~7,000,000 s): before,
 * the planner decoded boundary window after boundary window for ~25 minutes per attempt.
 */
async function lyingMp3(): Promise<string> {
  const honest = await generated("one-second.mp3", (o) => ["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "libmp3lame", "-b:a", "128k", o]);
  const bytes = readFileSync(honest);
  const at = bytes.indexOf("Info");
  if (at < 0 || at > 256 || !(bytes.readUInt32BE(at + 4) & 1)) throw new Error(`${honest} has no Info header with a frame count`);
  bytes.writeUInt32BE(0x0fffffff, at + 8);
  const out = join(MEDIA_CACHE, "lying-duration.mp3");
  writeFileSync(out, bytes);
  return out;
}

describe("a file cannot hold machines for hours", () => {
  let server: MediaServer;
  beforeAll(async () => {
    server = await startMediaServer({
      "/lying.mp3": { file: await lyingMp3() },
      "/two-minutes.flac": { file: await generated("two-minutes.flac", (o) => ["-f", "lavfi", "-i", "sine=frequency=300:duration=120", "-c:a", "flac", o]) },
    });
  }, 60_000);
  afterAll(() => server?.close());

  it("a header claiming more audio than the file can hold fails at once with media_too_long", async () => {
    const started = performance.now();
    const error = await plan(server.url("/lying.mp3"), { macroChunkSec: 300 }).catch((e: unknown) => e);
    const sec = (performance.now() - started) / 1000;
    const code = error instanceof MediaError ? error.code : String(error);
    recordRow({
      suite: "hostile media",
      case: "a 16 KB MP3 whose header claims ~7,000,000 s",
      expected: "media_too_long in < 10 s, before any window is decoded",
      observed: `${code} in ${sec.toFixed(1)} s`,
      pass: code === "media_too_long" && sec < 10,
    });
    expect(code).toBe("media_too_long");
    expect((error as MediaError).message).toMatch(/claims \d+\.\d h of audio in \d+ bytes/);
    expect((error as MediaError).retryable).toBe(false);
    expect(sec).toBeLessThan(10);
  });

  it("a recording over MAX_AUDIO_SEC fails with media_too_long, naming the limit", async () => {
    const error = await plan(server.url("/two-minutes.flac"), { macroChunkSec: 30, maxAudioSec: 60 }).catch((e: unknown) => e);
    const code = error instanceof MediaError ? error.code : String(error);
    recordRow({
      suite: "hostile media",
      case: "120 s of audio with MAX_AUDIO_SEC=60",
      expected: "media_too_long",
      observed: code,
      pass: code === "media_too_long",
    });
    expect(code).toBe("media_too_long");
    expect((error as MediaError).message).toContain("MAX_AUDIO_SEC");
  });

  it("planning stops between boundary windows when its task is called off", async () => {
    const controller = new AbortController();
    const planning = plan(server.url("/two-minutes.flac"), { macroChunkSec: 30, concurrency: 1, signal: controller.signal });
    controller.abort(new Error("task canceled"));
    const error = await planning.catch((e: unknown) => e);
    recordRow({
      suite: "hostile media",
      case: "cancel while planning",
      expected: "planning stops with the abort reason",
      observed: String((error as Error)?.message ?? error),
      pass: (error as Error)?.message === "task canceled",
    });
    expect((error as Error).message).toBe("task canceled");
  });
});
