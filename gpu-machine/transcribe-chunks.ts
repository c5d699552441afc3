import { streamLanguage } from "../shared/language-vote.ts";
import type { Segment } from "../shared/segment.ts";
import type { ChunkEngine, ChunkTranscript, TranscribeOptions } from "./engine/whisper-engine.ts";
import type { MicroChunk } from "./media/micro-chunks.ts";

/** One engine batch, turned into absolute segments. */
export interface TranscribedBatch {
  segments: Segment[];
  /** Speech seconds per language among the batch's chunks that produced text. */
  languageSec: Record<string, number>;
  /** End of the last chunk seen so far (absolute seconds), silent chunks included. */
  throughSec: number;
  fallbacks: number;
}

export interface ChunkCounts {
  chunks: number;
  speechChunks: number;
  fallbacks: number;
}

/**
 * Transcribes one batch in `language`. With "auto", one language per stream (a
 * machine's range, or a whole file): the first batch is decoded detecting each
 * chunk's language, its chunks vote with their language probabilities weighted by
 * length, and only chunks that came out in another language are decoded again in
 * the winner. Deciding per chunk let a short or unclear chunk come out in another
 * language (whisper-tiny wrote English speech as Norwegian or Welsh); detecting
 * first in a separate pass would cost every chunk of the batch a second encoder pass.
 */
async function transcribeIn(
  engine: ChunkEngine,
  batch: readonly MicroChunk[],
  options: TranscribeOptions,
  language: string,
): Promise<{ results: ChunkTranscript[]; language: string }> {
  const samples = batch.map((c) => c.samples);
  const results = await engine.transcribe(samples, { ...options, language });
  if (language !== "auto") return { results, language };
  const settled = streamLanguage(results.map((r, i) => ({ durationSec: batch[i]!.endSec - batch[i]!.startSec, languageProbs: r.languageProbs })));
  if (!settled) return { results, language };
  const redo = results.flatMap((r, i) => (r.languageProbs !== null && r.language !== settled ? [i] : []));
  if (redo.length > 0) {
    const again = await engine.transcribe(
      redo.map((i) => samples[i]!),
      { ...options, language: settled },
    );
    redo.forEach((i, k) => (results[i] = again[k]!));
  }
  return { results, language: settled };
}

/** A chunk's engine result on the recording's timeline. */
export function absoluteSegments(chunk: MicroChunk, r: ChunkTranscript): Segment[] {
  return r.segments.map((s) => ({
    start_sec: chunk.startSec + s.startSec,
    end_sec: chunk.startSec + s.endSec,
    text: s.text,
    language: s.language,
    avg_logprob: s.avgLogprob,
    no_speech_prob: s.noSpeechProb,
    compression_ratio: s.compressionRatio,
    ...(s.words
      ? {
          words: s.words.map((w) => ({ word: w.word, start_sec: chunk.startSec + w.startSec, end_sec: chunk.startSec + w.endSec, probability: w.probability })),
        }
      : {}),
  }));
}

/**
 * Feeds micro chunks to the engine in batches as they are cut: one batch runs
 * while the next is being cut (ffmpeg and VAD work meanwhile), and waiting for it
 * before starting another keeps order and memory bounded. Silent chunks never
 * reach the model. `onBatch` sees each batch in order.
 */
export async function transcribeChunks(
  chunks: AsyncIterable<MicroChunk>,
  engine: ChunkEngine,
  options: TranscribeOptions,
  onBatch: (batch: TranscribedBatch) => Promise<void>,
): Promise<ChunkCounts> {
  const counts: ChunkCounts = { chunks: 0, speechChunks: 0, fallbacks: 0 };
  let running: Promise<void> = Promise.resolve();
  let language = options.language;
  const transcribeBatch = async (batch: MicroChunk[], throughSec: number) => {
    let results: ChunkTranscript[] = [];
    if (batch.length > 0) ({ results, language } = await transcribeIn(engine, batch, options, language));
    const languageSec: Record<string, number> = {};
    let fallbacks = 0;
    const segments = results.flatMap((r, i) => {
      const chunk = batch[i]!;
      if (r.temperature > (options.temperature ?? 0)) fallbacks += 1;
      if (r.segments.length > 0) languageSec[r.language] = (languageSec[r.language] ?? 0) + chunk.endSec - chunk.startSec;
      return absoluteSegments(chunk, r);
    });
    counts.fallbacks += fallbacks;
    await onBatch({ segments, languageSec, throughSec, fallbacks });
  };
  const submit = async (batch: MicroChunk[], throughSec: number) => {
    await running;
    running = transcribeBatch(batch, throughSec);
    running.catch(() => undefined); // surfaced by the next await of `running`
  };
  let batch: MicroChunk[] = [];
  let throughSec = 0;
  for await (const chunk of chunks) {
    counts.chunks += 1;
    throughSec = chunk.endSec;
    if (!chunk.speech) continue; // silence costs no inference
    counts.speechChunks += 1;
    batch.push(chunk);
    if (batch.length === options.batchSize) {
      await submit(batch, throughSec);
      batch = [];
    }
  }
  await submit(batch, throughSec);
  await running;
  return counts;
}
