import type { SpeakerCounts, SpeakerSummary } from "../shared/api.ts";
import type { Segment } from "../shared/segment.ts";
import { clusterSpeakers, speakerKey } from "../shared/speaker-clusters.ts";
import type { MachineConfig } from "./config.ts";
import type { TranscribeOptions, WhisperEngine } from "./engine/whisper-engine.ts";
import type { FfmpegBinaries } from "./media/ffmpeg-binaries.ts";
import { MediaSource } from "./media/media-source.ts";
import { microChunks, type MicroChunk } from "./media/micro-chunks.ts";
import type { SpeechDetector } from "./media/speech-detector.ts";
import { RangeSpeakers } from "./runtime/range-speakers.ts";
import { transcribeChunks } from "./transcribe-chunks.ts";

export interface FileTranscriptOptions extends TranscribeOptions {
  binaries: FfmpegBinaries;
  detector: SpeechDetector | null;
  minSec: number;
  maxSec: number;
  /** Sees every micro chunk as it is cut, silent ones included (the long-form eval's attribution). */
  onChunk?: (chunk: MicroChunk) => void;
  /** Who speaks when: the file is diarized as one range and its speakers labelled S1, S2, … as a job's would be. */
  diarize?: { config: Pick<MachineConfig, "SPEAKER_MODEL_DIR" | "SEGMENTATION_MODEL_DIR">; counts: SpeakerCounts };
}

export interface FileTranscript {
  language: string | null;
  segments: Segment[];
  audioDurationSec: number;
  /** With `diarize`: every speaker found, by label, with talk time. */
  speakers?: SpeakerSummary[];
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
  let speakers: RangeSpeakers | null = null;
  let summary: SpeakerSummary[] | undefined;
  try {
    ({ durationSec } = await source.duration());
    const stream = await source.stream(0, durationSec);
    const cut = microChunks(stream, { rangeIndex: 0, minSec: options.minSec, maxSec: options.maxSec, detector: options.detector });
    const seen = options.onChunk ? tap(cut, options.onChunk) : cut;
    speakers = options.diarize ? await RangeSpeakers.start(options.diarize.config) : null;
    const counts = await transcribeChunks(
      speakers ? speakers.observe(seen) : seen,
      engine,
      // Diarization splits segments where the speaker changes, at word boundaries.
      { ...options, wordTimestamps: options.wordTimestamps || speakers !== null },
      async (batch) => {
        segments.push(...(speakers ? await speakers.label(batch.segments, batch.throughSec, options.wordTimestamps) : batch.segments));
        for (const [language, sec] of Object.entries(batch.languageSec)) languageSec.set(language, (languageSec.get(language) ?? 0) + sec);
      },
    );
    ({ chunks, speechChunks, fallbacks } = counts);
    if (speakers && options.diarize) {
      const found = await speakers.finish();
      const labels = clusterSpeakers(
        found.speakers.map((s) => ({ ...s, range_index: 0 })),
        options.diarize.counts,
      );
      // The label calls pushed their segments in order: the final speakers line up with them.
      const finals = found.relabel.flat();
      for (let i = 0; i < segments.length; i++) segments[i] = relabel(segments[i]!, finals[i] ?? null, labels);
      const talk = new Map<string, number>();
      for (const s of found.speakers) {
        const label = labels.get(speakerKey({ range_index: 0, local: s.local }));
        if (label !== undefined) talk.set(label, (talk.get(label) ?? 0) + s.talk_sec);
      }
      summary = [...talk].map(([label, sec]) => ({ label, talk_sec: round(sec) })).sort((a, b) => compareLabels(a.label, b.label));
    }
  } finally {
    await speakers?.close();
    await source.close();
  }
  const wall = (performance.now() - started) / 1000;
  const language = [...languageSec.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? (options.language === "auto" ? null : options.language);
  return {
    language,
    segments,
    audioDurationSec: durationSec,
    ...(summary ? { speakers: summary } : {}),
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

/**
 * A segment and its words under the job-wide label of its final local speaker
 * ("0", "1", …); a voice the clustering did not keep loses its label rather
 * than showing a local id.
 */
function relabel(segment: Segment, local: string | null, labels: ReadonlyMap<string, string>): Segment {
  const label = local === null ? undefined : labels.get(speakerKey({ range_index: 0, local }));
  const { words, ...rest } = segment;
  return { ...withLabel(rest, label), ...(words ? { words: words.map((w) => withLabel(w, label)) } : {}) };
}

function withLabel<T extends { speaker?: string }>(item: T, label: string | undefined): T {
  const { speaker: _local, ...rest } = item;
  return { ...rest, ...(label !== undefined ? { speaker: label } : {}) } as T;
}

/** S2 before S10. */
function compareLabels(a: string, b: string): number {
  return Number(a.slice(1)) - Number(b.slice(1));
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
