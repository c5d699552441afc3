import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FRAME_STEP_SAMPLES, LOCAL_SPEAKERS, powersetToSpeakers, SpeakerSegmentation, WINDOW_SAMPLES } from "../engine/speaker-segmentation.ts";
import { SAMPLE_RATE } from "../media/pcm.ts";
import { RangeAudio } from "./range-audio.ts";
import { MIN_EMBED_SAMPLES, type SpeakerEmbedder, unitLength } from "./speaker-embedder.ts";
import { type Span, SpeakerTimeline, totalLength } from "./speaker-timeline.ts";
import { clusterUnits } from "./unit-clusters.ts";
import { frameCentre, isActive, overlapLinks, type WindowActivity } from "./window-links.ts";

/** One speaker of a range as the job gets it. `local` is what the range's segments name; `first_sec` is absolute. */
export interface LocalSpeaker {
  local: string;
  /** Unit length, ≤ 512 numbers. */
  vector: number[];
  talk_sec: number;
  first_sec: number;
}

/** Absolute seconds; `speaker` is a local id. */
export interface SpeakerTurn {
  start_sec: number;
  end_sec: number;
  speaker: string;
}

/** The segmentation model shipped with the machine (gpu-machine/models, MIT; see its SOURCE.txt). */
export const DEFAULT_SEGMENTATION_MODEL_DIR = fileURLToPath(new URL("../models/pyannote-segmentation-3.0-int8/", import.meta.url));
const MODEL_FILES = ["model.int8.onnx", "model.onnx"];

export interface DiarizerTuning {
  /** Seconds between segmentation windows (10 s each): half a window, so every second is heard by two. */
  stepSec: number;
  /**
   * Cosine similarity (of talk-weighted centroids) down to which the range's
   * window-local voices join into one speaker (embedder-specific;
   * bench/diarization.ts chose it for logmel-stats).
   */
  unitThreshold: number;
  /** Added to the similarity of voices that consecutive windows heard in the same frames. */
  linkBonus: number;
  /**
   * Taken from the similarity of voices that one window heard as two people. Not
   * a wall: the model sometimes hears one voice as two, and a wall would then
   * split that person in two for the whole range.
   */
  sameWindowPenalty: number;
  /** Clean speech a window must hold of a voice for it to be embedded; a shorter one follows the voice it continues, or stays unlabelled. */
  minUnitSec: number;
}

export const DEFAULT_TUNING: DiarizerTuning = { stepSec: 5, unitThreshold: 0.5, linkBonus: 0, sameWindowPenalty: 0.3, minUnitSec: 0.5 };

/** A voice embedded from a speaker's turns takes at most this much of them, spread over the range (an ONNX model's cost grows with it). */
const MAX_VOICE_SEC = 120;
const VOICE_PIECES = 12;
/** Half the span of the audio a frame stands for: frames tile the timeline 270 samples apart. */
const HALF_FRAME = FRAME_STEP_SAMPLES / 2;

export interface RangeDiarizerOptions {
  embedder: SpeakerEmbedder;
  segmentationModelDir?: string;
  threads?: number;
  tuning?: Partial<DiarizerTuning>;
}

/** One local speaker of one window. */
interface WindowUnit {
  id: number;
  window: number;
  voice: Float32Array | null;
  /** Seconds of clean speech its voice was made from. */
  weight: number;
  /** The unit of the previous window that was active in the same frames, or -1. */
  continues: number;
  /** The range speaker, once its window's frames are decided; -1 before, or when it stays unlabelled. */
  speaker: number;
  decided: boolean;
}

interface AnalysedWindow extends WindowActivity {
  /** Samples of audio in it (less than a window only at the range's end). */
  length: number;
  units: (WindowUnit | null)[];
}

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Who speaks when inside one range, while the range is transcribed: pyannote
 * segmentation over 10 s windows; each window's (up to three) local speakers
 * embedded from their clean speech there; the range's speakers are clusters of
 * those voices (unit-clusters.ts). Decisions wait until labels are asked for
 * (`through`, once per batch of segments) so they are made with all the audio
 * so far, and while the range runs they stand: a speaker that has labelled a
 * posted segment keeps its id, and later windows can join it but not undo it.
 * When the range is done it is decided again from all of its windows at once
 * (the job shows no label before then, and the machine corrects those it
 * posted), and each speaker's voice is the talk-weighted mean of its windows'
 * voices: the representation the job clusters across ranges.
 *
 * Each frame is decided by the window whose centre is nearest (the model is
 * least sure at a window's edges); audio that no full window of the regular
 * step covers yet is decided by a window that ends where the audio ends.
 */
export class RangeDiarizer {
  private readonly audio = new RangeAudio();
  private timeline = new SpeakerTimeline();
  /** Per range speaker: its decided units' voices, summed by seconds. */
  private readonly voicesSoFar: { voice: Float64Array; members: number[] }[] = [];
  private readonly windows: AnalysedWindow[] = [];
  private readonly units: WindowUnit[] = [];
  private readonly windowBuffer = new Float32Array(WINDOW_SAMPLES);
  private readonly waiters: Waiter[] = [];
  private readonly tuning: DiarizerTuning;
  private startSec: number | null = null;
  /** Where the next regular window starts, in samples from the range's start. */
  private next = 0;
  /** Samples decided. */
  private committed = 0;
  private finished = false;
  private running: Promise<void> | null = null;
  private failure: unknown = null;
  private final: LocalSpeaker[] | null = null;
  private finishing: Promise<void> | null = null;

  private constructor(
    private readonly segmentation: SpeakerSegmentation,
    private readonly embedder: SpeakerEmbedder,
    tuning: Partial<DiarizerTuning>,
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...tuning };
  }

  static async create(options: RangeDiarizerOptions): Promise<RangeDiarizer> {
    const dir = options.segmentationModelDir ?? DEFAULT_SEGMENTATION_MODEL_DIR;
    const file = MODEL_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
    if (!file) throw new Error(`no segmentation model in ${dir} (looked for ${MODEL_FILES.join(", ")})`);
    const segmentation = await SpeakerSegmentation.load(file, { threads: options.threads ?? 1 });
    return new RangeDiarizer(segmentation, options.embedder, options.tuning ?? {});
  }

  /** The range's audio in order, contiguous: 16 kHz mono samples starting at absolute second `startSec`. */
  push(startSec: number, samples: Float32Array): void {
    if (this.finished) throw new Error("push after finish");
    this.startSec ??= startSec;
    this.audio.append(Math.round((startSec - this.startSec) * SAMPLE_RATE), samples);
    this.kick();
  }

  /** Resolves once all audio pushed so far up to `sec` has local speaker ids assigned. */
  through(sec: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.startSec === null) return Promise.resolve();
    const target = Math.min(this.audio.length, Math.round((sec - this.startSec) * SAMPLE_RATE));
    if (target <= this.committed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
      this.kick();
    });
  }

  /** Turns found so far: merged, time-ordered, non-overlapping (where two speak at once, the dominant one). */
  turns(): SpeakerTurn[] {
    const start = this.startSec ?? 0;
    return this.timeline.turns().map((t) => ({ start_sec: start + t.start / SAMPLE_RATE, end_sec: start + t.end / SAMPLE_RATE, speaker: String(t.speaker) }));
  }

  /**
   * After the last push: resolves when everything is analysed, the range is
   * decided once more from all of its windows at once, and every speaker has
   * its final voice. `turns()` then gives the final turns, whose speaker ids
   * are those of `speakers()` and need not be those of earlier turns.
   */
  finish(): Promise<void> {
    this.finishing ??= (async () => {
      this.finished = true;
      await this.through(Number.POSITIVE_INFINITY);
      await this.running;
      if (this.failure) throw this.failure;
      await this.decideAgain();
      this.final = await this.finalVoices();
    })();
    return this.finishing;
  }

  /** The range's speakers with their final representations (after finish()). */
  speakers(): LocalSpeaker[] {
    if (!this.final) throw new Error("speakers() before finish() resolved");
    return this.final;
  }

  async close(): Promise<void> {
    this.failure ??= new Error("diarizer closed");
    this.rejectWaiters(this.failure);
    await this.running;
    await this.segmentation.release();
  }

  private kick(): void {
    if (this.running || this.failure) return;
    this.running = this.pump()
      .catch((error: unknown) => {
        this.failure = error;
        this.rejectWaiters(error);
      })
      .finally(() => {
        this.running = null;
        // Audio or a demand that arrived while the last step finished.
        if (this.hasWork()) this.kick();
      });
  }

  private hasWork(): boolean {
    return !this.failure && (this.next + WINDOW_SAMPLES <= this.audio.length || this.wanted() > this.committed);
  }

  /** How far the audio must be decided now: all of it after finish, else as far as a caller waits for. */
  private wanted(): number {
    if (this.finished) return this.audio.length;
    return this.waiters.reduce((most, w) => Math.max(most, w.target), 0);
  }

  private async pump(): Promise<void> {
    const step = Math.round(this.tuning.stepSec * SAMPLE_RATE);
    while (!this.failure) {
      if (this.next + WINDOW_SAMPLES <= this.audio.length) {
        await this.analyse(this.next);
        this.next += step;
        continue;
      }
      const target = this.wanted();
      if (target <= this.committed) break;
      const last = this.windows[this.windows.length - 1];
      if (!last || last.start + last.length < target) {
        // No full window of the regular step reaches what is wanted: one that ends where the audio ends.
        const start = Math.max(0, this.audio.length - WINDOW_SAMPLES);
        await this.analyse(start);
        this.next = Math.max(this.next, start + step);
      }
      await this.decide(target);
    }
  }

  /** Segments one window and embeds each of its local speakers' clean speech. */
  private async analyse(start: number): Promise<void> {
    const length = Math.min(WINDOW_SAMPLES, this.audio.length - start);
    const { frames, logProbabilities } = await this.segmentation.run(this.audio.read(start, start + WINDOW_SAMPLES, this.windowBuffer));
    const { activity, probability } = powersetToSpeakers(logProbabilities, frames);
    let audioFrames = frames;
    while (audioFrames > 0 && frameCentre({ start: 0 }, audioFrames - 1) >= length) audioFrames--;
    const current: AnalysedWindow = { start, frames: audioFrames, activity, probability, length, units: [] };
    const previous = this.windows[this.windows.length - 1];
    const links = previous ? overlapLinks(previous, current) : [-1, -1, -1];
    const index = this.windows.length;
    for (let s = 0; s < LOCAL_SPEAKERS; s++) {
      const clean = cleanFrames(current, s);
      if (!activeWithin(current, s, 0, Number.POSITIVE_INFINITY)) {
        current.units.push(null);
        continue;
      }
      const weight = totalLength(clean) / SAMPLE_RATE;
      const voice = weight >= this.tuning.minUnitSec ? await this.embedder.embed(atLeastHalfSecond(this.audio.gather(clean))) : null;
      const continues = links[s]! >= 0 ? (previous!.units[links[s]!]?.id ?? -1) : -1;
      const unit: WindowUnit = { id: this.units.length, window: index, voice, weight, continues, speaker: -1, decided: false };
      this.units.push(unit);
      current.units.push(unit);
    }
    this.windows.push(current);
  }

  /** Clusters the voices not yet decided with the speakers so far, and decides every frame up to `target`. */
  private async decide(target: number): Promise<void> {
    const free = this.units.filter((u) => !u.decided && u.voice);
    const anchors = this.voicesSoFar.map((v, speaker) => ({ speaker, voice: v.voice, members: v.members }));
    const links: [number, number][] = this.units.filter((u) => !u.decided && u.continues >= 0).map((u) => [u.id, u.continues]);
    const assignment = clusterUnits(
      anchors,
      free.map((u) => ({ id: u.id, window: u.window, voice: u.voice!, weight: u.weight })),
      links,
      { threshold: this.tuning.unitThreshold, linkBonus: this.tuning.linkBonus, sameWindowPenalty: this.tuning.sameWindowPenalty },
    );
    const groupSpeaker = new Map<number, number>();
    const speakerOf = (unit: WindowUnit | null): number => {
      if (!unit) return -1;
      if (unit.decided) return unit.speaker;
      const a = assignment.get(unit.id);
      if (!a) {
        // Too little clean speech to embed: the voice it continues, if any.
        const before = unit.continues >= 0 ? this.units[unit.continues]! : null;
        if (before && before.window === unit.window - 1) return speakerOf(before);
        const after = this.windows[unit.window + 1]?.units.find((u) => u?.continues === unit.id && u.voice);
        return after ? speakerOf(after) : -1;
      }
      if ("anchor" in a) return a.anchor;
      let speaker = groupSpeaker.get(a.group);
      if (speaker === undefined) {
        speaker = this.voicesSoFar.length;
        this.voicesSoFar.push({ voice: new Float64Array(this.embedder.dims), members: [] });
        groupSpeaker.set(a.group, speaker);
      }
      return speaker;
    };

    const from = this.committed;
    for (let i = 0; i < this.windows.length; i++) {
      const w = this.windows[i]!;
      const [ownFrom, ownTo] = this.ownRegion(i);
      const lo = Math.max(from, ownFrom);
      const hi = Math.min(target, ownTo);
      if (!(hi > lo)) continue;
      const speakers = w.units.map(speakerOf);
      this.commit(w, speakers, lo, hi);
      w.units.forEach((unit, s) => {
        if (!unit || unit.decided) return;
        unit.decided = true;
        unit.speaker = speakers[s]!;
        if (unit.speaker < 0 || !unit.voice) return;
        const sum = this.voicesSoFar[unit.speaker]!;
        for (let k = 0; k < unit.voice.length; k++) sum.voice[k]! += unit.voice[k]! * unit.weight;
        sum.members.push(unit.id);
      });
    }
    this.committed = Math.max(this.committed, target);
    this.resolveWaiters();
  }

  /**
   * Every window's voices clustered together, with no speaker decided in
   * advance. While the range runs, a speaker decided from its first windows
   * keeps the units it took, and a voice heard early can draw in another's
   * (its anchor cannot be undone); with the whole range heard, each unit goes
   * where all the evidence puts it. Measured on the benchmark's conversations
   * (bench/diarization.ts, same thresholds): DER on the held files 15.6 → 10.0 %
   * mean, the most of it within-range confusion; the tune files 10.5 → 10.8 %.
   */
  private async decideAgain(): Promise<void> {
    this.timeline = new SpeakerTimeline();
    this.voicesSoFar.length = 0;
    for (const unit of this.units) {
      unit.decided = false;
      unit.speaker = -1;
    }
    this.committed = 0;
    await this.decide(this.audio.length);
  }

  /** The samples that window `i` decides: those nearer to its centre than to a neighbour's. */
  private ownRegion(i: number): [number, number] {
    const centre = (k: number) => this.windows[k]!.start + this.windows[k]!.length / 2;
    const from = i === 0 ? 0 : (centre(i - 1) + centre(i)) / 2;
    const w = this.windows[i]!;
    const to = i === this.windows.length - 1 ? w.start + w.length : (centre(i) + centre(i + 1)) / 2;
    return [from, to];
  }

  /** Adds the window's frames in [from, to) to the timeline: the dominant labelled speaker of each. */
  private commit(current: WindowActivity, speakers: number[], from: number, to: number): void {
    for (let i = 0; i < current.frames; i++) {
      const centre = frameCentre(current, i);
      const start = Math.max(from, centre - HALF_FRAME);
      const end = Math.min(to, centre + HALF_FRAME);
      if (!(end > start)) continue;
      const voices = new Set<number>();
      let dominant = -1;
      for (let s = 0; s < LOCAL_SPEAKERS; s++) {
        if (!isActive(current, i, s)) continue;
        voices.add(speakers[s]!);
        if (speakers[s]! >= 0 && (dominant < 0 || current.probability[i * LOCAL_SPEAKERS + s]! > current.probability[i * LOCAL_SPEAKERS + dominant]!))
          dominant = s;
      }
      if (dominant >= 0) this.timeline.add(start, end, speakers[dominant]!, voices.size === 1);
    }
  }

  /**
   * Each speaker's voice: the talk-weighted mean of its windows' voices, which
   * together cover its speech in the range (measured as good as embedding all
   * of its clean speech again, on the tune files and held-4spk-10min, at a fifth less cost). A speaker none of whose
   * windows held enough clean speech to embed is embedded from all of its turns.
   */
  private async finalVoices(): Promise<LocalSpeaker[]> {
    const start = this.startSec ?? 0;
    const out: LocalSpeaker[] = [];
    for (const speaker of this.timeline.speakers()) {
      const turns = this.timeline.spansOf(speaker);
      const sum = this.voicesSoFar[speaker]?.voice;
      const voice = sum?.some((x) => x !== 0)
        ? sum
        : await this.embedder.embed(atLeastHalfSecond(spread(this.audio.gather(turns), MAX_VOICE_SEC * SAMPLE_RATE, VOICE_PIECES)));
      out.push({
        local: String(speaker),
        vector: Array.from(unitLength(voice)),
        talk_sec: this.timeline.talkSamples(speaker) / SAMPLE_RATE,
        first_sec: start + turns[0]!.start / SAMPLE_RATE,
      });
    }
    return out;
  }

  private resolveWaiters(): void {
    for (let k = this.waiters.length - 1; k >= 0; k--) {
      const w = this.waiters[k]!;
      if (w.target <= this.committed) {
        this.waiters.splice(k, 1);
        w.resolve();
      }
    }
  }

  private rejectWaiters(error: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(error);
  }
}

function activeWithin(window: WindowActivity, speaker: number, from: number, to: number): boolean {
  for (let i = 0; i < window.frames; i++) {
    const centre = frameCentre(window, i);
    if (centre + HALF_FRAME > from && centre - HALF_FRAME < to && isActive(window, i, speaker)) return true;
  }
  return false;
}

/** The stretches of the window where this local speaker talks alone. */
function cleanFrames(window: WindowActivity, speaker: number): Span[] {
  const spans: Span[] = [];
  for (let i = 0; i < window.frames; i++) {
    let alone = isActive(window, i, speaker);
    for (let s = 0; s < LOCAL_SPEAKERS && alone; s++) if (s !== speaker && isActive(window, i, s)) alone = false;
    if (!alone) continue;
    const centre = frameCentre(window, i);
    const last = spans[spans.length - 1];
    if (last && last.end >= centre - HALF_FRAME) last.end = centre + HALF_FRAME;
    else spans.push({ start: Math.max(window.start, centre - HALF_FRAME), end: centre + HALF_FRAME });
  }
  return spans;
}

/** At most `limit` samples: `pieces` equal stretches spread evenly over the audio when it is longer. */
function spread(audio: Float32Array, limit: number, pieces: number): Float32Array {
  if (audio.length <= limit) return audio;
  const size = Math.floor(limit / pieces);
  const out = new Float32Array(size * pieces);
  for (let p = 0; p < pieces; p++) {
    const at = Math.floor(((audio.length - size) * p) / (pieces - 1));
    out.set(audio.subarray(at, at + size), p * size);
  }
  return out;
}

/** The embedder's shortest input: a shorter voice is repeated, which keeps its spectrum. */
function atLeastHalfSecond(audio: Float32Array): Float32Array {
  if (audio.length >= MIN_EMBED_SAMPLES || audio.length === 0) return audio.length === 0 ? new Float32Array(MIN_EMBED_SAMPLES) : audio;
  const out = new Float32Array(MIN_EMBED_SAMPLES);
  for (let at = 0; at < out.length; at += audio.length) out.set(audio.subarray(0, Math.min(audio.length, out.length - at)), at);
  return out;
}
