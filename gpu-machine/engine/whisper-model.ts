import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { ModelFilesError, openModelDir, type ModelDir, type ModelVariant } from "./model-dir.ts";
import { Vocab } from "./vocab.ts";

export type ExecutionProvider = "cuda" | "cpu";

export interface LoadOptions {
  variant?: ModelVariant;
  /** "auto" tries CUDA and falls back to CPU when onnxruntime has no GPU binaries. */
  device?: ExecutionProvider | "auto";
  /** Intra-op threads per session; 0 lets onnxruntime choose (one per core). */
  threads?: number;
}

/** The encoder and merged decoder of one export, loaded once per process. */
export class WhisperModel {
  private constructor(
    readonly files: ModelDir,
    readonly encoder: ort.InferenceSession,
    readonly decoder: ort.InferenceSession,
    readonly vocab: Vocab,
    readonly device: ExecutionProvider,
    readonly decoderOutputs: { present: string[] },
  ) {}

  get config() {
    return this.files.config;
  }

  static async load(dir: string, options: LoadOptions = {}): Promise<WhisperModel> {
    const files = openModelDir(dir, options.variant);
    const sessionOptions = (device: ExecutionProvider): ort.InferenceSession.SessionOptions => ({
      executionProviders: device === "cuda" ? ["cuda", "cpu"] : ["cpu"],
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
    const create = async (device: ExecutionProvider) => [
      await ort.InferenceSession.create(files.encoderPath, sessionOptions(device)).catch((err: unknown) => failLoad(files.encoderPath, err)),
      await ort.InferenceSession.create(files.decoderPath, sessionOptions(device)).catch((err: unknown) => failLoad(files.decoderPath, err)),
    ] as const;
    const wanted = options.device ?? "auto";
    let device: ExecutionProvider = wanted === "auto" ? (cudaProviderInstalled() ? "cuda" : "cpu") : wanted;
    let sessions: readonly [ort.InferenceSession, ort.InferenceSession];
    try {
      sessions = await create(device);
    } catch (err) {
      // Without the CUDA provider library onnxruntime refuses the session; CPU always works.
      if (wanted !== "auto" || !/cuda/i.test(String((err as Error).message))) throw err;
      device = "cpu";
      sessions = await create(device);
    }
    const [encoder, decoder] = sessions;
    checkShape(files, encoder, decoder);
    const vocab = new Vocab(files, files.config.vocab_size);
    return new WhisperModel(files, encoder, decoder, vocab, device, { present: decoder.outputNames.filter((n) => n.startsWith("present.")) });
  }

  /** Encoder outputs, one [1500 × d_model] array per window of features. */
  async encode(features: readonly Float32Array[]): Promise<Float32Array[]> {
    const nMels = this.config.num_mel_bins;
    const frames = features[0]!.length / nMels;
    const input = new Float32Array(features.length * nMels * frames);
    features.forEach((f, i) => input.set(f, i * nMels * frames));
    const out = await this.encoder.run({ input_features: new ort.Tensor("float32", input, [features.length, nMels, frames]) }, ["last_hidden_state"]);
    const hidden = out.last_hidden_state!.data as Float32Array;
    const size = hidden.length / features.length;
    return features.map((_, i) => hidden.slice(i * size, (i + 1) * size));
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }
}

/**
 * onnxruntime-node carries only its CPU build; the CUDA provider arrives when the
 * machine image runs its installer with --onnxruntime-node-install=cuda12 (see the
 * README). Looking for the file avoids a loud failed attempt on every CPU start.
 */
export function cudaProviderInstalled(): boolean {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("onnxruntime-node/package.json"));
  return existsSync(join(root, "bin", "napi-v6", `${process.platform}`, `${process.arch}`, "libonnxruntime_providers_cuda.so"));
}

function failLoad(path: string, err: unknown): never {
  throw new ModelFilesError(path, `onnxruntime could not load it: ${(err as Error).message}`);
}

/** A graph that does not fit the config (another model's onnx/ folder) fails here, naming the file. */
function checkShape(files: ModelDir, encoder: ort.InferenceSession, decoder: ort.InferenceSession): void {
  if (!encoder.inputNames.includes("input_features") || !encoder.outputNames.includes("last_hidden_state")) {
    throw new ModelFilesError(files.encoderPath, "is not a Whisper encoder export (needs input_features → last_hidden_state)");
  }
  const layers = files.config.decoder_layers;
  const need = ["input_ids", "encoder_hidden_states", "use_cache_branch", `past_key_values.${layers - 1}.encoder.value`];
  const missing = need.filter((n) => !decoder.inputNames.includes(n));
  if (missing.length > 0 || decoder.inputNames.includes(`past_key_values.${layers}.decoder.key`)) {
    throw new ModelFilesError(files.decoderPath, `does not match config.json (${layers} decoder layers, merged decoder with use_cache_branch); missing inputs: ${missing.join(", ") || "none, but it has more layers"}`);
  }
}
