import { sleep } from "../../shared/sleep.ts";
import { SAMPLE_RATE } from "../media/pcm.ts";
import type { ChunkEngine, ChunkTranscript, TranscribeOptions } from "./whisper-engine.ts";

/**
 * For the scaling benchmark only (bench/scaling.ts): inference replaced by a
 * sleep of `rtf` × the audio's length, one placeholder segment per chunk. Every
 * other part of a machine (claims, media, chunking, posts, heartbeats) is real,
 * so a run measures the distribution system, not the model. `serve` uses it
 * when SIMULATED_RTF is set, and says so in its log.
 */
export class SimulatedEngine implements ChunkEngine {
  constructor(readonly rtf: number) {}

  async transcribe(chunks: readonly Float32Array[], options: Partial<TranscribeOptions> = {}): Promise<ChunkTranscript[]> {
    const seconds = chunks.reduce((sum, c) => sum + c.length / SAMPLE_RATE, 0);
    await sleep(seconds * this.rtf * 1000, options.signal);
    options.signal?.throwIfAborted();
    const language = options.language && options.language !== "auto" ? options.language : "en";
    return chunks.map((c) => ({
      segments: [{ startSec: 0, endSec: c.length / SAMPLE_RATE, text: "simulated", tokens: [], avgLogprob: 0, noSpeechProb: 0, compressionRatio: 1, language }],
      language,
      languageProbs: null,
      temperature: 0,
      quality: { avgLogprob: 0, compressionRatio: 1, noSpeechProb: 0, looped: false },
      skipped: null,
    }));
  }
}
