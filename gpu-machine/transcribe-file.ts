import type { Segment } from "../shared/segment.ts";
import type { TranscribeOptions, WhisperEngine } from "./engine/whisper-engine.ts";
import type { FfmpegBinaries } from "./media/ffmpeg-binaries.ts";
import { MediaSource } from "./media/media-source.ts";
import { microChunks, type MicroChunk } from "./media/micro-chunks.ts";
import type { SpeechDetector } from "./media/speech-detector.ts";
import { transcribeChunks } from "./transcribe-chunks.ts";

export interface FileTranscriptOptions extends TranscribeOptions {
  binaries: FfmpegBinaries;
  detector: SpeechDetector | null;
  minSec: number;
  maxSec: number;
  /** Sees every micro chunk as it is cut, silent ones included (the long-form eval's attribution). */
  onChunk?: (chunk: MicroChunk) => void;
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
    const cut = microChunks(stream, { rangeIndex: 0, minSec: options.minSec, maxSec: options.maxSec, detector: options.detector });
    const counts = await transcribeChunks(options.onChunk ? tap(cut, options.onChunk) : cut, engine, options, async (batch) => {
      segments.push(...batch.segments);
      for (const [language, sec] of Object.entries(batch.languageSec)) languageSec.set(language, (languageSec.get(language) ?? 0) + sec);
    });
    ({ chunks, speechChunks, fallbacks } = counts);
  } finally {
    await source.close();
  }
  const wall = (performance.now() - started) / 1000;
  const language = [...languageSec.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? (options.language === "auto" ? null : options.language);
  return {
    language,
    segments,
    audioDurationSec: durationSec,
    stats: {
      audio_sec: round(durationSec),
      wall_sec: round(wall),
      rtf: round(durationSec > 0 ? wall / durationSec : 0),
      chunks,
      speech_chunks: speechChunks,
      fallbacks,
    },
  };
}

async function* tap(chunks: AsyncIterable<MicroChunk>, see: (chunk: MicroChunk) => void): AsyncGenerator<MicroChunk> {
  for await (const chunk of chunks) {
    see(chunk);
    yield chunk;
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
