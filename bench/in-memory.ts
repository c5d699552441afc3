import { existsSync } from "node:fs";
import { WhisperEngine, type ChunkEngine } from "../gpu-machine/engine/whisper-engine.ts";
import type { LoadOptions } from "../gpu-machine/engine/whisper-model.ts";
import { microChunks } from "../gpu-machine/media/micro-chunks.ts";
import type { PcmBlock } from "../gpu-machine/media/pcm.ts";
import type { SpeechDetector } from "../gpu-machine/media/speech-detector.ts";
import { transcribeChunks } from "../gpu-machine/transcribe-chunks.ts";
import type { Segment } from "../shared/segment.ts";
import { decodeWhole } from "../test/support/media-files.ts";
import { readJsonl } from "../test/support/shared-data.ts";

/** What the engine benchmarks share: a long recording in memory and the engine's own long-form path over it. */
const SAMPLE_RATE = 16_000;

interface Utterance {
  start: number;
  end: number;
  text: string;
}

/**
 * The first `minutes` of a recording decoded to 16 kHz mono, cut in the silence
 * after the last utterance that starts within them (from the segment list
 * `name.jsonl` beside it), so the reference holds exactly what the audio holds;
 * no reference without a list.
 */
export async function excerpt(file: string, minutes: number): Promise<{ samples: Float32Array; cutSec: number; reference: string | null }> {
  const limit = minutes * 60;
  const list = file.replace(/\.[^./]+$/, ".jsonl");
  if (!existsSync(list)) {
    const samples = await decodeWhole(file, Number.isFinite(limit) ? limit : undefined);
    return { samples, cutSec: samples.length / SAMPLE_RATE, reference: null };
  }
  const utterances = readJsonl<Utterance>(list);
  // Every utterance that starts within the limit, so an excerpt is never shorter than asked.
  const whole = utterances.filter((u) => u.start < limit);
  const last = whole.at(-1);
  if (!last) throw new Error(`no utterance in the first ${minutes} min of ${file}`);
  const next = utterances[whole.length];
  const cutSec = next ? (last.end + next.start) / 2 : undefined;
  const samples = await decodeWhole(file, cutSec);
  return { samples, cutSec: samples.length / SAMPLE_RATE, reference: whole.map((u) => u.text).join(" ") };
}

/** A Whisper export loaded and run once on a second of sound, so the first timed batch pays no start-up. */
export async function loadWarmEngine(dir: string, threads: number, options: Omit<LoadOptions, "threads"> = {}): Promise<WhisperEngine> {
  const engine = await WhisperEngine.load(dir, { ...options, threads });
  await engine.transcribe([new Float32Array(SAMPLE_RATE).fill(0.01)], { language: "en" });
  return engine;
}

/** Decoded audio as the media pipeline hands it over: 1 s blocks. */
async function* blocks(samples: Float32Array): AsyncGenerator<PcmBlock> {
  for (let i = 0; i < samples.length; i += SAMPLE_RATE) yield { startSample: i, samples: samples.subarray(i, i + SAMPLE_RATE) };
}

/** The machine's path minus media and network: micro chunks cut at quiet points, decoded in batches. */
export async function transcribeInMemory(
  samples: Float32Array,
  engine: ChunkEngine,
  detector: SpeechDetector | null,
  batchSize: number,
): Promise<{ segments: Segment[]; wallSec: number }> {
  const segments: Segment[] = [];
  const t = performance.now();
  await transcribeChunks(
    microChunks(blocks(samples), { rangeIndex: 0, detector }),
    engine,
    { language: "en", task: "transcribe", batchSize, wordTimestamps: false },
    async (b) => {
      segments.push(...b.segments);
    },
  );
  return { segments, wallSec: (performance.now() - t) / 1000 };
}
