import type { RangeSpeakerReport } from "../../shared/protocol.ts";
import type { Segment } from "../../shared/segment.ts";
import type { MachineConfig } from "../config.ts";
import { labelSegments, speakersOf } from "../diarize/label-segments.ts";
import { LogmelStatsEmbedder } from "../diarize/logmel-stats-embedder.ts";
import { loadOnnxSpeakerModel } from "../diarize/onnx-speaker-model.ts";
import { DEFAULT_SEGMENTATION_MODEL_DIR, RangeDiarizer } from "../diarize/range-diarizer.ts";
import type { SpeakerEmbedder } from "../diarize/speaker-embedder.ts";
import type { MicroChunk } from "../media/micro-chunks.ts";

/** One embedder per machine: a deployment's model loads once, not once per range. */
let embedder: { dir: string | undefined; loaded: Promise<SpeakerEmbedder> } | null = null;

function speakerEmbedder(config: Pick<MachineConfig, "SPEAKER_MODEL_DIR">): Promise<SpeakerEmbedder> {
  const dir = config.SPEAKER_MODEL_DIR;
  if (embedder !== null && embedder.dir === dir) return embedder.loaded;
  const loaded = dir !== undefined ? loadOnnxSpeakerModel(dir, { threads: 1 }) : Promise.resolve(new LogmelStatsEmbedder());
  // A model that fails to load is tried again by the next range, not cached as failed.
  loaded.catch(() => (embedder = null));
  embedder = { dir, loaded };
  return loaded;
}

/** What a range's diarization ends with: its speakers, and who said each segment already labelled. */
export interface RangeSpeakersFound {
  speakers: RangeSpeakerReport[];
  /** Per call of `label`, in order: the final speaker of each segment it returned (null: no voice found). */
  relabel: (string | null)[][];
}

/**
 * Diarization of one range task, beside its transcription: every micro chunk
 * cut (silent ones too, so the range's audio stays contiguous) goes to the
 * range's diarizer as it passes to the engine; each batch of segments is
 * labelled with the range's local speakers before it is posted (split at
 * speaker changes on word boundaries). When the range is done its diarizer
 * decides once more from all of the range (range-diarizer.ts), and the
 * completion carries the range's speakers, one voice vector each, so the job
 * can match them across ranges, and the final speaker of every segment posted.
 */
export class RangeSpeakers {
  /** The times of every segment `label` returned, per call. */
  private readonly labelled: { start_sec: number; end_sec: number }[][] = [];

  private constructor(private readonly diarizer: RangeDiarizer) {}

  static async start(config: Pick<MachineConfig, "SPEAKER_MODEL_DIR" | "SEGMENTATION_MODEL_DIR">): Promise<RangeSpeakers> {
    const diarizer = await RangeDiarizer.create({
      embedder: await speakerEmbedder(config),
      segmentationModelDir: config.SEGMENTATION_MODEL_DIR ?? DEFAULT_SEGMENTATION_MODEL_DIR,
      threads: 1,
    });
    return new RangeSpeakers(diarizer);
  }

  /** Passes the chunks on unchanged, feeding each to the diarizer first. */
  async *observe(chunks: AsyncIterable<MicroChunk>): AsyncGenerator<MicroChunk> {
    for await (const chunk of chunks) {
      this.diarizer.push(chunk.startSec, chunk.samples);
      yield chunk;
    }
  }

  /**
   * The batch's segments with their local speakers. Words were asked for to
   * split at speaker changes; they are dropped again unless the job wants them.
   */
  async label(segments: Segment[], throughSec: number, keepWords: boolean): Promise<Segment[]> {
    await this.diarizer.through(throughSec);
    const labelled = labelSegments(segments, this.diarizer.turns());
    this.labelled.push(labelled.map((s) => ({ start_sec: s.start_sec, end_sec: s.end_sec })));
    return keepWords ? labelled : labelled.map(({ words: _words, ...s }: Segment) => s);
  }

  /** After the last chunk: the range's speakers as the job wants them, and the labels of every segment labelled so far. */
  async finish(): Promise<RangeSpeakersFound> {
    await this.diarizer.finish();
    const turns = this.diarizer.turns();
    return {
      speakers: this.diarizer.speakers().map((s) => ({ local: s.local, vector: s.vector, talk_sec: s.talk_sec, first_sec: s.first_sec })),
      relabel: this.labelled.map((spans) => speakersOf(spans, turns)),
    };
  }

  async close(): Promise<void> {
    await this.diarizer.close();
  }
}
