import type { Segment } from "../shared/segment.ts";
import type { TranscribeOptions, WhisperEngine } from "./engine/whisper-engine.ts";
import type { FfmpegBinaries } from "./media/ffmpeg-binaries.ts";
import { MediaSource } from "./media/media-source.ts";
import { microChunks, type MicroChunk } from "./media/micro-chunks.ts";
import type { SpeechDetector } from "./media/speech-detector.ts";

export interface FileTranscriptOptions extends TranscribeOptions {
  binaries: FfmpegBinaries;
  detector: SpeechDetector | null;
  minSec: number;
  maxSec: number;
}

export interface FileTranscript {
  language: string | null;
  segments: Segment[];
  audioDurationSec: number;
  stats: { audio_sec: number; wall_sec: number; rtf: number; chunks: number; speech_chunks: number; fallbacks: number };
}

/**
 * A whole recording on this machine, no edge: stream it as one range, cut micro
 * chunks, and keep the engine busy with one batch while the next is being cut.
 */
export async function transcribeUrl(url: string, engine: WhisperEngine, options: FileTranscriptOptions): Promise<FileTranscript> {
  const started = performance.now();
  const source = await MediaSource.open(url, { binaries: options.binaries });
  const segments: Segment[] = [];
  const languageSec = new Map<string, number>();
  let chunks = 0;
  let speechChunks = 0;
  let fallbacks = 0;
  let durationSec = 0;
  try {
    ({ durationSec } = await source.duration());
    const stream = await source.stream(0, durationSec);
    const process = async (batch: MicroChunk[]) => {
      const results = await engine.transcribe(
        batch.map((c) => c.samples),
        options,
      );
      results.forEach((r, i) => {
        const chunk = batch[i]!;
        if (r.temperature > 0) fallbacks += 1;
        if (r.segments.length > 0) languageSec.set(r.language, (languageSec.get(r.language) ?? 0) + chunk.endSec - chunk.startSec);
        for (const s of r.segments) {
          segments.push({
            start_sec: chunk.startSec + s.startSec,
            end_sec: chunk.startSec + s.endSec,
            text: s.text,
            language: s.language,
            avg_logprob: s.avgLogprob,
            no_speech_prob: s.noSpeechProb,
            compression_ratio: s.compressionRatio,
            ...(s.words ? { words: s.words.map((w) => ({ word: w.word, start_sec: chunk.startSec + w.startSec, end_sec: chunk.startSec + w.endSec, probability: w.probability })) } : {}),
          });
        }
      });
    };
    // One batch runs while the next is cut; waiting for it before starting the next keeps order and memory bounded.
    let running: Promise<void> = Promise.resolve();
    const submit = async (batch: MicroChunk[]) => {
      await running;
      running = process(batch);
      running.catch(() => undefined); // surfaced by the next await of `running`
    };
    let batch: MicroChunk[] = [];
    for await (const chunk of microChunks(stream, { rangeIndex: 0, minSec: options.minSec, maxSec: options.maxSec, detector: options.detector })) {
      chunks += 1;
      if (!chunk.speech) continue; // silence costs no inference
      speechChunks += 1;
      batch.push(chunk);
      if (batch.length === options.batchSize) {
        await submit(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await submit(batch);
    await running;
  } finally {
    await source.close();
  }
  const wall = (performance.now() - started) / 1000;
  const language = [...languageSec.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? (options.language === "auto" ? null : options.language);
  return {
    language,
    segments,
    audioDurationSec: durationSec,
    stats: { audio_sec: round(durationSec), wall_sec: round(wall), rtf: round(durationSec > 0 ? wall / durationSec : 0), chunks, speech_chunks: speechChunks, fallbacks },
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
