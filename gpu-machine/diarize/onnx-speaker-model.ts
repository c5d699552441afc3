import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import * as ort from "onnxruntime-node";
import { z } from "zod";
import { decodeModel } from "../engine/float-graphs.ts";
import { KaldiFbank, type KaldiWindow, subtractMean } from "./kaldi-fbank.ts";
import type { SpeakerEmbedder } from "./speaker-embedder.ts";

/**
 * A speaker-embedding export in the WeSpeaker / 3D-Speaker ONNX layout, as a
 * deployment may provide one (SPEAKER_MODEL_DIR): one float32 input of Kaldi
 * fbank frames [N, T, 80] (WeSpeaker names it `feats`, 3D-Speaker `x`), one
 * output [N, D] (`embs`, `embedding`). The names are taken from the session.
 *
 * sherpa-onnx's exports carry metadata_props (framework, sample_rate,
 * output_dim, normalize_samples, feature_normalize_type), read here when
 * present; without them the model is taken to be WeSpeaker's. onnxruntime-node
 * does not expose custom metadata, so the file is decoded with onnx-proto for it.
 */

export class SpeakerModelError extends Error {
  override readonly name = "SpeakerModelError";
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

const SAMPLE_RATE = 16_000;
/** The shortest audio `embed` takes: the contract's 0.5 s. */
export const MIN_SAMPLES = SAMPLE_RATE / 2;
/** Longer audio is embedded in windows of at most 10 s, so that memory stays bounded whatever the talk time. */
export const MAX_WINDOW_SAMPLES = 10 * SAMPLE_RATE;
/** What a range may post for a speaker; the largest WeSpeaker / 3D-Speaker models give 512. */
export const MAX_DIMS = 512;
const DEFAULT_MEL_BINS = 80;
const INT16_SCALE = 32768;

const wholeNumber = z.string().regex(/^\d+$/, "expected a whole number").transform(Number);
const flag = z.enum(["0", "1"]).transform((v) => v === "1");

/** The metadata_props this loader reads; other keys (language, url, comment) are ignored. */
export const SpeakerModelMetadata = z.object({
  framework: z.string().optional(),
  sample_rate: wholeNumber.optional(),
  output_dim: wholeNumber.optional(),
  /** Not written by sherpa-onnx; lets an export with a symbolic feature dimension say how many bins it takes. */
  num_mel_bins: wholeNumber.optional(),
  /** sherpa-onnx: 1 = samples in [-1, 1], 0 = samples scaled to the int16 range. */
  normalize_samples: flag.optional(),
  /** The same flag under the name sherpa-onnx's first WeSpeaker metadata script wrote. */
  normalize_features: flag.optional(),
  /** sherpa-onnx: "global-mean" = subtract each bin's mean over the utterance; empty = leave the features as they are. */
  feature_normalize_type: z.enum(["global-mean", ""]).optional(),
});
export type SpeakerModelMetadata = z.infer<typeof SpeakerModelMetadata>;

interface FrontEnd {
  window: KaldiWindow;
  samplesNormalized: boolean;
  meanNormalize: boolean;
}

/**
 * The features each framework's models were trained on (their recipes call
 * torchaudio.compliance.kaldi.fbank, 80 bins, 25/10 ms, snip_edges, no dither
 * at inference). sherpa-onnx's own runtime differs slightly (povey window,
 * 7600 Hz top, no edge snipping, no mean subtraction for WeSpeaker models):
 * the training recipe is what the weights expect, so it is followed here.
 */
const FRAMEWORKS = {
  // wespeaker/bin/infer_onnx.py and its dataset processor: waveform × 2^15, window_type="hamming", then CMN.
  wespeaker: { window: "hamming", samplesNormalized: false, meanNormalize: true },
  // 3D-Speaker's speakerlab FBank: kaldi.fbank's defaults (povey) on samples in [-1, 1], mean-normalised.
  "3d-speaker": { window: "povey", samplesNormalized: true, meanNormalize: true },
} as const satisfies Record<string, FrontEnd>;
type Framework = keyof typeof FRAMEWORKS;

/** The file to load from `dir`: its one .onnx file, or model.onnx where there are several. */
export async function findSpeakerModel(dir: string): Promise<string> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.isDirectory() && e.name.endsWith(".onnx")).map((e) => e.name);
  } catch (err) {
    throw new SpeakerModelError(dir, `cannot list the speaker model folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (names.includes("model.onnx")) return join(dir, "model.onnx");
  const [only, ...others] = names.sort();
  if (only && others.length === 0) return join(dir, only);
  if (!only) throw new SpeakerModelError(dir, "no .onnx file; expected one WeSpeaker or 3D-Speaker export (such as voxceleb_resnet34.onnx) or a model.onnx");
  throw new SpeakerModelError(dir, `${names.length} .onnx files (${names.join(", ")}) and none named model.onnx; keep one, or name the one to use model.onnx`);
}

/** The model's metadata_props, checked. */
export async function readSpeakerMetadata(file: string): Promise<SpeakerModelMetadata> {
  let props: Record<string, string>;
  try {
    const model = decodeModel(await readFile(file));
    props = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? "", p.value ?? ""]));
  } catch (err) {
    throw new SpeakerModelError(file, `not a readable ONNX model (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = SpeakerModelMetadata.safeParse(props);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SpeakerModelError(file, `metadata ${issue.path.join(".")}=${JSON.stringify(props[String(issue.path[0])])}: ${issue.message}`);
  }
  return parsed.data;
}

function frontEndOf(file: string, meta: SpeakerModelMetadata): FrontEnd {
  const framework = meta.framework ?? "wespeaker";
  if (!Object.hasOwn(FRAMEWORKS, framework)) {
    throw new SpeakerModelError(file, `metadata framework="${framework}": its features are not Kaldi fbank; expected ${Object.keys(FRAMEWORKS).join(" or ")}`);
  }
  const base = FRAMEWORKS[framework as Framework];
  if (meta.sample_rate !== undefined && meta.sample_rate !== SAMPLE_RATE) {
    throw new SpeakerModelError(file, `metadata sample_rate=${meta.sample_rate}; the machine's audio is ${SAMPLE_RATE} Hz`);
  }
  return {
    window: base.window,
    samplesNormalized: meta.normalize_samples ?? meta.normalize_features ?? base.samplesNormalized,
    meanNormalize: meta.feature_normalize_type === undefined ? base.meanNormalize : meta.feature_normalize_type === "global-mean",
  };
}

function describeValue(v: ort.InferenceSession.ValueMetadata | undefined): string {
  if (!v) return "missing";
  if (!v.isTensor) return `"${v.name}", not a tensor`;
  return `"${v.name}" ${v.type} [${v.shape.join(", ")}]`;
}

/**
 * Opens the speaker-embedding model in `dir` on the CPU (`threads` intra-op
 * threads, 1 by default) and checks its layout; throws SpeakerModelError naming
 * the file and what was expected when it does not fit.
 */
export async function loadOnnxSpeakerModel(dir: string, options: { threads?: number } = {}): Promise<SpeakerEmbedder> {
  const file = await findSpeakerModel(dir);
  const meta = await readSpeakerMetadata(file);
  const frontEnd = frontEndOf(file, meta);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, {
      executionProviders: ["cpu"],
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
  } catch (err) {
    throw new SpeakerModelError(file, `onnxruntime could not load it (${err instanceof Error ? err.message : String(err)})`);
  }
  try {
    return await OnnxSpeakerModel.open(file, session, meta, frontEnd);
  } catch (err) {
    await session.release();
    throw err;
  }
}

/** The model's raw output for one window of audio. */
type RunWindow = (audio: Float32Array) => Promise<Float32Array>;

class OnnxSpeakerModel implements SpeakerEmbedder {
  private constructor(
    readonly name: string,
    readonly dims: number,
    private readonly file: string,
    private readonly run: RunWindow,
  ) {}

  static async open(file: string, session: ort.InferenceSession, meta: SpeakerModelMetadata, frontEnd: FrontEnd): Promise<OnnxSpeakerModel> {
    const bins = meta.num_mel_bins ?? DEFAULT_MEL_BINS;
    const expected = `one float32 input [N, T, ${bins}] of Kaldi fbank frames (the WeSpeaker / 3D-Speaker layout)`;
    const input = session.inputMetadata[0];
    if (session.inputMetadata.length !== 1 || !input?.isTensor || input.type !== "float32" || input.shape.length !== 3) {
      throw new SpeakerModelError(file, `inputs ${session.inputMetadata.map(describeValue).join(", ") || "none"}; expected ${expected}`);
    }
    const featureDim = input.shape[2];
    if (typeof featureDim === "number" ? featureDim !== bins : meta.num_mel_bins === undefined) {
      const hint = meta.num_mel_bins === undefined ? " (or metadata num_mel_bins for another count)" : "";
      throw new SpeakerModelError(file, `input ${describeValue(input)}: its last dimension is not ${bins}; expected ${expected}${hint}`);
    }
    const candidates = session.outputMetadata.filter(
      (o) => o.isTensor && o.type === "float32" && (session.outputMetadata.length === 1 || o.shape.length === 2),
    );
    const output = candidates[0];
    if (candidates.length !== 1 || !output?.isTensor) {
      throw new SpeakerModelError(file, `outputs ${session.outputMetadata.map(describeValue).join(", ")}; expected one float32 embedding [N, D]`);
    }
    const declared = typeof output.shape[1] === "number" ? output.shape[1] : undefined;
    if (declared !== undefined && meta.output_dim !== undefined && declared !== meta.output_dim) {
      throw new SpeakerModelError(file, `output ${describeValue(output)} disagrees with metadata output_dim=${meta.output_dim}`);
    }
    const fbank = new KaldiFbank({
      numMelBins: bins,
      window: frontEnd.window,
      sampleScale: frontEnd.samplesNormalized ? 1 : INT16_SCALE,
      sampleRate: SAMPLE_RATE,
    });
    const run: RunWindow = async (audio) => {
      const features = fbank.compute(audio);
      if (frontEnd.meanNormalize) subtractMean(features);
      const feeds = { [input.name]: new ort.Tensor("float32", features.data, [1, features.frames, features.bins]) };
      const out = (await session.run(feeds))[output.name];
      if (out?.type !== "float32" || out.dims.length !== 2 || out.dims[0] !== 1) {
        throw new SpeakerModelError(file, `output "${output.name}" came back ${out?.type} [${out?.dims.join(", ")}]; expected float32 [1, D]`);
      }
      return out.data as Float32Array;
    };
    // A shape that names no size and no output_dim: one run on a second of silence tells it.
    const dims = declared ?? meta.output_dim ?? (await run(new Float32Array(SAMPLE_RATE))).length;
    if (!(dims >= 1 && dims <= MAX_DIMS)) throw new SpeakerModelError(file, `embeddings of ${dims} dimensions; expected 1 to ${MAX_DIMS}`);
    return new OnnxSpeakerModel(`onnx:${basename(file)}`, dims, file, run);
  }

  /**
   * Unit-length embedding of one speaker's audio. Audio over 10 s is cut into
   * equal windows of at most 10 s (no short remainder), each embedded on its
   * own and unit-normalised, then averaged weighted by its length.
   */
  async embed(audio: Float32Array): Promise<Float32Array> {
    if (audio.length < MIN_SAMPLES) throw new RangeError(`speaker audio must be at least ${MIN_SAMPLES / SAMPLE_RATE} s, got ${audio.length} samples`);
    const windows = Math.ceil(audio.length / MAX_WINDOW_SAMPLES);
    const sum = new Float64Array(this.dims);
    for (let w = 0; w < windows; w++) {
      const from = Math.round((w * audio.length) / windows);
      const to = Math.round(((w + 1) * audio.length) / windows);
      const e = await this.run(audio.subarray(from, to));
      if (e.length !== this.dims) throw new SpeakerModelError(this.file, `gave ${e.length} values; expected ${this.dims}`);
      const norm = Math.hypot(...e);
      if (!(norm > 0 && Number.isFinite(norm))) throw new SpeakerModelError(this.file, `gave an embedding of length ${norm}`);
      for (let d = 0; d < this.dims; d++) sum[d]! += ((to - from) * e[d]!) / norm;
    }
    const norm = Math.hypot(...sum);
    return Float32Array.from(sum, (v) => v / norm);
  }
}
