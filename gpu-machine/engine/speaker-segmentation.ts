import * as ort from "onnxruntime-node";

/**
 * pyannote segmentation-3.0 (the sherpa-onnx ONNX export) on onnxruntime-node:
 * the first stage of speaker diarization. Each 10 s window of 16 kHz mono
 * audio gives, per 16.875 ms frame, which of up to three speakers local to
 * that window are talking. Local speaker 0 in one window need not be speaker 0
 * in the next: tying them together across windows (embeddings, clustering) is
 * a later stage's job.
 *
 * The model's output is a "powerset": one log-probability per set of at most
 * two speakers (Plaquet & Bredin, Interspeech 2023), so overlap is a class of
 * its own rather than two independent sigmoids.
 */
export const SAMPLE_RATE = 16000;
/** One window: the length the model was trained on (metadata window_size). */
export const WINDOW_SAMPLES = 160000;
/** Output frames advance by this many samples (metadata receptive_field_shift)... */
export const FRAME_STEP_SAMPLES = 270;
/** ...and each sees this many (metadata receptive_field_size). */
export const FRAME_SPAN_SAMPLES = 991;
export const LOCAL_SPEAKERS = 3;
/** The powerset classes in the model's output order: which local speakers each one means. */
export const POWERSET_CLASSES: readonly (readonly number[])[] = [[], [0], [1], [2], [0, 1], [0, 2], [1, 2]];
export const DEFAULT_STEP_SEC = 5;

/** Centre of frame `i` of a window, in seconds from the window's start (frame 0 is centred near sample 495). */
export function frameCentreSec(i: number): number {
  return (i * FRAME_STEP_SAMPLES + FRAME_SPAN_SAMPLES / 2) / SAMPLE_RATE;
}

export interface SegmentationWindow {
  /** Seconds from the start of the audio. */
  start: number;
  /** Output frames (589 for a full 10 s window); frame i is centred at start + frameCentreSec(i). */
  frames: number;
  /**
   * Frames whose centre lies inside the audio: all of them except in a last
   * window padded with zeros, whose padding reads as silence.
   */
  audioFrames: number;
  /** frames × LOCAL_SPEAKERS, row by row: 1 where the most likely powerset class includes that speaker. */
  activity: Uint8Array;
  /** frames × LOCAL_SPEAKERS: the probability that the speaker talks (the sum over the classes that include it). */
  probability: Float32Array;
}

export interface SegmentOptions {
  /** Seconds between window starts; 5 (half a window) by default. */
  stepSec?: number;
}

/** Window starts (in samples) covering `length` samples: the last one may run past the end and is padded. */
export function windowStarts(length: number, stepSamples: number): number[] {
  if (!(stepSamples >= 1)) throw new RangeError(`window step must be at least one sample, got ${stepSamples}`);
  const starts: number[] = [];
  for (let at = 0; at < length; at += stepSamples) {
    starts.push(at);
    if (at + WINDOW_SAMPLES >= length) break;
  }
  return starts;
}

/** Powerset log-probabilities (frames × 7) → per-frame activity of the three local speakers. */
export function powersetToSpeakers(logProbabilities: Float32Array, frames: number): Pick<SegmentationWindow, "activity" | "probability"> {
  const classes = POWERSET_CLASSES.length;
  if (logProbabilities.length !== frames * classes) throw new RangeError(`expected ${frames} × ${classes} log-probabilities, got ${logProbabilities.length}`);
  const activity = new Uint8Array(frames * LOCAL_SPEAKERS);
  const probability = new Float32Array(frames * LOCAL_SPEAKERS);
  for (let f = 0; f < frames; f++) {
    const row = f * classes;
    let best = 0;
    for (let c = 0; c < classes; c++) {
      const logP = logProbabilities[row + c]!;
      if (logP > logProbabilities[row + best]!) best = c;
      const p = Math.exp(logP);
      for (const s of POWERSET_CLASSES[c]!) probability[f * LOCAL_SPEAKERS + s]! += p;
    }
    for (const s of POWERSET_CLASSES[best]!) activity[f * LOCAL_SPEAKERS + s] = 1;
  }
  return { activity, probability };
}

export class SpeakerSegmentation {
  private constructor(private readonly session: ort.InferenceSession) {}

  /**
   * `modelPath` is the caller's to choose (SPEAKER_SEGMENTATION_MODEL when this
   * is wired into the machine). It runs on the CPU: 1.5 MB of int8 weights
   * take tens of milliseconds a window on one thread, far below Whisper's cost.
   */
  static async load(modelPath: string, options: { threads?: number } = {}): Promise<SpeakerSegmentation> {
    const session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ["cpu"],
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    const [input] = session.inputNames;
    const [output] = session.outputNames;
    if (input !== "x" || output !== "y") {
      throw new Error(`${modelPath} is not a pyannote segmentation export: inputs ${session.inputNames.join(",")}, outputs ${session.outputNames.join(",")}`);
    }
    return new SpeakerSegmentation(session);
  }

  /** Every window over `samples` (16 kHz mono in [-1, 1]), in order. */
  async segment(samples: Float32Array, options: SegmentOptions = {}): Promise<SegmentationWindow[]> {
    const step = Math.round((options.stepSec ?? DEFAULT_STEP_SEC) * SAMPLE_RATE);
    const windows: SegmentationWindow[] = [];
    // One buffer per call, so that two calls at once cannot overwrite each other's window.
    const window = new Float32Array(WINDOW_SAMPLES);
    for (const at of windowStarts(samples.length, step)) {
      const inAudio = Math.min(WINDOW_SAMPLES, samples.length - at);
      window.set(samples.subarray(at, at + inAudio));
      window.fill(0, inAudio);
      const { frames, logProbabilities } = await this.run(window);
      let audioFrames = frames;
      while (audioFrames > 0 && frameCentreSec(audioFrames - 1) * SAMPLE_RATE >= inAudio) audioFrames--;
      windows.push({ start: at / SAMPLE_RATE, frames, audioFrames, ...powersetToSpeakers(logProbabilities, frames) });
    }
    return windows;
  }

  /** The raw model output for one window of exactly WINDOW_SAMPLES samples. */
  async run(window: Float32Array): Promise<{ frames: number; logProbabilities: Float32Array }> {
    if (window.length !== WINDOW_SAMPLES) throw new RangeError(`a window is ${WINDOW_SAMPLES} samples, got ${window.length}`);
    const out = await this.session.run({ x: new ort.Tensor("float32", window, [1, 1, WINDOW_SAMPLES]) });
    const y = out.y!;
    const [, frames, classes] = y.dims as [number, number, number];
    if (classes !== POWERSET_CLASSES.length) throw new Error(`segmentation model gave ${classes} classes per frame, expected ${POWERSET_CLASSES.length}`);
    return { frames, logProbabilities: y.data as Float32Array };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
