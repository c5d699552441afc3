import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfig } from "../gpu-machine/config.ts";
import { WhisperEngine } from "../gpu-machine/engine/whisper-engine.ts";
import { resolveBinaries } from "../gpu-machine/media/ffmpeg-binaries.ts";
import { loadSpeechDetector, type SpeechDetector } from "../gpu-machine/media/speech-detector.ts";
import { transcribeUrl, type FileTranscriptOptions } from "../gpu-machine/transcribe-file.ts";
import { generated } from "./support/media-files.ts";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, sharedPath } from "./support/shared-data.ts";
import { packagedModel } from "./support/whisper-models.ts";

const shared = missingShared("data/formats/excerpt.opus", "data/speech/fleurs-multilingual/fleurs-de-000.ogg");

describe.skipIf(shared.missing)("a whole file through the media pipeline and the engine", () => {
  let server: MediaServer;
  let engine: WhisperEngine;
  let detector: SpeechDetector | null;
  let options: FileTranscriptOptions;
  beforeAll(async () => {
    const noise = await generated("noise-20s.wav", (o) => [
      "-f",
      "lavfi",
      "-i",
      "anoisesrc=color=white:amplitude=0.1:seed=7:d=20",
      "-ar",
      "16000",
      "-ac",
      "1",
      o,
    ]);
    const hum = await generated("hum-20s.wav", (o) => ["-f", "lavfi", "-i", "sine=frequency=50:d=20", "-af", "volume=0.3", "-ar", "16000", "-ac", "1", o]);
    const silence = await generated("silence-20s.wav", (o) => ["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "20", o]);
    server = await startMediaServer({
      "/noise.wav": { file: noise },
      "/hum.wav": { file: hum },
      "/silence.wav": { file: silence },
      "/excerpt.opus": { file: sharedPath("data", "formats", "excerpt.opus") },
      "/de.ogg": { file: sharedPath("data", "speech", "fleurs-multilingual", "fleurs-de-000.ogg") },
    });
    engine = await WhisperEngine.load(await packagedModel("tiny"), { threads: 2 });
    const config = readConfig({ ...process.env });
    detector = await loadSpeechDetector(config);
    options = { binaries: resolveBinaries(), detector, minSec: 5, maxSec: 30, language: "auto", task: "transcribe", batchSize: 4, wordTimestamps: false };
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await engine?.model.release();
  });

  it.each(["/noise.wav", "/hum.wav", "/silence.wav"])(
    "%s gives an empty transcript without running the model",
    async (path) => {
      // A fresh detector per file: it keeps the probabilities of the range it has seen.
      const result = await transcribeUrl(server.url(path), engine, { ...options, detector: await loadSpeechDetector(readConfig({ ...process.env })) });
      expect(result.segments).toEqual([]);
      expect(result.stats.chunks).toBeGreaterThan(0);
      expect(result.stats.speech_chunks).toBe(0);
      expect(result.audioDurationSec).toBeCloseTo(20, 1);
    },
    120_000,
  );

  it("with language auto, one language is settled for the stream and every segment carries it", async () => {
    const result = await transcribeUrl(server.url("/de.ogg"), engine, options);
    expect(result.language).toBe("de");
    expect(result.segments.length).toBeGreaterThan(0);
    expect(result.segments.every((s) => s.language === "de")).toBe(true);
  }, 120_000);

  it("speech gets absolute, ordered segments that cover the recording", async () => {
    const result = await transcribeUrl(server.url("/excerpt.opus"), engine, options);
    expect(result.language).toBe("en");
    expect(result.segments.length).toBeGreaterThan(5);
    const last = result.segments.at(-1)!;
    expect(last.end_sec).toBeGreaterThan(60);
    expect(last.end_sec).toBeLessThanOrEqual(result.audioDurationSec + 0.01);
    for (let i = 1; i < result.segments.length; i++) expect(result.segments[i]!.start_sec).toBeGreaterThanOrEqual(result.segments[i - 1]!.start_sec);
    expect(result.stats.speech_chunks).toBeGreaterThan(1);
  }, 120_000);
});
