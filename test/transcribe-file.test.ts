import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfig } from "../gpu-machine/config.ts";
import { WhisperEngine } from "../gpu-machine/engine/whisper-engine.ts";
import { resolveBinaries } from "../gpu-machine/media/ffmpeg-binaries.ts";
import { loadSpeechDetector, type SpeechDetector } from "../gpu-machine/media/speech-detector.ts";
import { transcribeUrl, type FileTranscriptOptions } from "../gpu-machine/transcribe-file.ts";
import { generated } from "./support/media-files.ts";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, sharedPath } from "./support/shared-data.ts";
import { labelAccuracy, type Turn, TWO_VOICES_SET, twoVoices } from "./support/two-voices.ts";
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

describe.skipIf(missingShared(`${TWO_VOICES_SET}/manifest.jsonl`).missing)("a whole file diarized on one machine", () => {
  let server: MediaServer;
  let engine: WhisperEngine;
  let options: FileTranscriptOptions;
  let turns: Turn[];
  beforeAll(async () => {
    // Two minutes: on 30 s of these voices, a turn of 3080 was heard as 2033 (labels 73 % right).
    const [long, short] = [await twoVoices(7), await twoVoices(2)];
    turns = long.turns;
    server = await startMediaServer({ "/two-voices.wav": { file: long.file }, "/short.wav": { file: short.file } });
    engine = await WhisperEngine.load(await packagedModel("tiny"), { threads: 2 });
    const config = readConfig({ ...process.env });
    options = {
      binaries: resolveBinaries(),
      detector: await loadSpeechDetector(config),
      minSec: 5,
      maxSec: 30,
      language: "en",
      task: "transcribe",
      batchSize: 4,
      wordTimestamps: true,
      diarize: { config, counts: {} },
    };
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await engine?.model.release();
  });

  it("labels every segment and word S1, S2 by voice, and sums each speaker's talk", async () => {
    const result = await transcribeUrl(server.url("/two-voices.wav"), engine, options);
    const { mapping, right, report } = labelAccuracy(turns, result.segments);
    expect(result.segments.every((s) => s.speaker !== undefined && s.words?.every((w) => w.speaker === s.speaker))).toBe(true);
    expect([...mapping.keys()].sort(), report).toEqual(["S1", "S2"]);
    expect(new Set(mapping.values()).size, report).toBe(2);
    expect(right, report).toBeGreaterThan(0.85);
    // Labels are numbered by first appearance, and the summary has them all.
    expect(result.segments[0]!.speaker).toBe("S1");
    expect(result.speakers?.map((s) => s.label)).toEqual(["S1", "S2"]);
    const speech = turns.reduce((sum, t) => sum + t.end - t.start, 0);
    const talk = result.speakers!.reduce((sum, s) => sum + s.talk_sec, 0);
    // The turns hold the clips' own pauses too, which are no one's talk.
    expect(talk).toBeGreaterThan(0.6 * speech);
    expect(talk).toBeLessThan(1.1 * speech);
  }, 120_000);

  it("honours a speaker count, and without words asked for, segments carry none", async () => {
    const result = await transcribeUrl(server.url("/short.wav"), engine, {
      ...options,
      wordTimestamps: false,
      diarize: { ...options.diarize!, counts: { num_speakers: 1 } },
    });
    expect(new Set(result.segments.map((s) => s.speaker))).toEqual(new Set(["S1"]));
    expect(result.speakers?.map((s) => s.label)).toEqual(["S1"]);
    expect(result.segments.some((s) => s.words !== undefined)).toBe(false);
  }, 120_000);
});
