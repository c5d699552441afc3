import * as ort from "onnxruntime-node";
import { DeviceError, deviceFailure, keepsStatesOnDevice, resolveDevice, sessionProviders, type Device, type DeviceChoice } from "./execution-provider.ts";
import { logMelGraph, PADDED_SAMPLES, padForStft } from "./log-mel.ts";
import { ModelFilesError, openModelDir, type ModelDir, type ModelVariant } from "./model-dir.ts";
import { Vocab } from "./vocab.ts";

export interface LoadOptions {
  variant?: ModelVariant;
  /** "auto" takes CUDA where its provider is installed, else the CPU (execution-provider.ts). */
  device?: DeviceChoice;
  /** Intra-op threads per session; 0 lets onnxruntime choose (one per core). */
  threads?: number;
  /** Where to say which provider runs the graphs. */
  log?: (line: string) => void;
}

/** The log-mel graph, the encoder and the merged decoder of one export, loaded once per process. */
export class WhisperModel {
  private constructor(
    readonly files: ModelDir,
    /** Log-mel features (log-mel.ts): on the device with the encoder, and ~20× faster than JS on a CPU. */
    readonly features: ort.InferenceSession,
    readonly encoder: ort.InferenceSession,
    /** The merged decoder for the first step of a batch (the encoder's key/values are made here). */
    readonly decoder: ort.InferenceSession,
    /** The same graph for the steps after it; on a device that keeps states, another session (see load). */
    readonly cachedDecoder: ort.InferenceSession,
    readonly vocab: Vocab,
    readonly device: Device,
    readonly decoderOutputs: { present: string[] },
    private readonly hostOptions: ort.InferenceSession.SessionOptions,
  ) {}

  private hostSession: Promise<ort.InferenceSession> | null = null;

  /**
   * The decoder graph on the CPU: the decoder itself where the states stay on the host,
   * else a session of its own, made on first use (host-attention.ts needs it for word
   * timing on WebGPU, and most jobs never ask for words).
   */
  hostDecoder(): Promise<ort.InferenceSession> {
    if (!this.statesOnDevice) return Promise.resolve(this.decoder);
    this.hostSession ??= ort.InferenceSession.create(this.files.decoderPath, this.hostOptions);
    return this.hostSession;
  }

  /** Whether the decoder's KV cache stays on the device between steps. */
  get statesOnDevice(): boolean {
    return this.cachedDecoder !== this.decoder;
  }

  get config() {
    return this.files.config;
  }

  static async load(dir: string, options: LoadOptions = {}): Promise<WhisperModel> {
    const files = openModelDir(dir, options.variant);
    const sessionOptions = (device: Device): ort.InferenceSession.SessionOptions => ({
      executionProviders: sessionProviders(device),
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      // onnxruntime warns that shape ops stay on the CPU under a GPU provider, which is by design.
      logSeverityLevel: 3,
    });
    const create = async (device: Device, path: string) => {
      try {
        return await ort.InferenceSession.create(path, sessionOptions(device));
      } catch (err) {
        const failure = deviceFailure(device, err);
        return failure instanceof DeviceError ? Promise.reject(failure) : failLoad(path, err);
      }
    };
    const wanted = options.device ?? "auto";
    let device = resolveDevice(wanted);
    let sessions: readonly [ort.InferenceSession, ort.InferenceSession];
    try {
      sessions = [await create(device, files.encoderPath), await create(device, files.decoderPath)];
    } catch (err) {
      // "auto" found the CUDA library but CUDA would not start (no GPU, no driver): the CPU always works.
      if (wanted !== "auto" || device === "cpu") throw err;
      device = "cpu";
      sessions = [await create(device, files.encoderPath), await create(device, files.decoderPath)];
    }
    const [encoder, plain] = sessions;
    checkShape(files, encoder, plain);
    const features = await ort.InferenceSession.create(logMelGraph(files.config.num_mel_bins), {
      ...sessionOptions(device),
      // On a device that keeps states, the features go straight into the encoder without a trip through the host.
      ...(keepsStatesOnDevice(device) ? { preferredOutputLocation: "gpu-buffer" as const } : {}),
    });
    const present = plain.outputNames.filter((n) => n.startsWith("present."));
    let [decoder, cachedDecoder] = [plain, plain];
    if (keepsStatesOnDevice(device)) {
      // The KV cache stays on the GPU between steps. Two sessions of one graph: the with-cache
      // branch returns empty placeholders for the encoder's key/values, and a session that
      // keeps its outputs on the device binds each output to one shape, so the first step
      // (real ones) and the later steps (placeholders) cannot share one.
      const onDevice = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, "gpu-buffer" as const]));
      const encoderStates = present.filter((n) => n.includes(".encoder."));
      const decoderStates = present.filter((n) => n.includes(".decoder."));
      const withLocations = (where: Record<string, "cpu" | "gpu-buffer">) =>
        ort.InferenceSession.create(files.decoderPath, { ...sessionOptions(device), preferredOutputLocation: { logits: "cpu", ...where } });
      decoder = await withLocations(onDevice(present));
      cachedDecoder = await withLocations({ ...Object.fromEntries(encoderStates.map((n) => [n, "cpu" as const])), ...onDevice(decoderStates) });
      await plain.release();
    }
    options.log?.(
      `${files.name} (${files.variant}): features, encoder and decoder on ${sessionProviders(device).join(" + ")}${wanted !== device ? ` (asked: ${wanted})` : ""}` +
        (keepsStatesOnDevice(device) ? "; KV cache kept on the device" : ""),
    );
    const vocab = new Vocab(files, files.config.vocab_size);
    return new WhisperModel(files, features, encoder, decoder, cachedDecoder, vocab, device, { present }, sessionOptions("cpu"));
  }

  /** Encoder outputs, one [1500 × d_model] array per chunk of 16 kHz audio (at most 30 s each). */
  async encode(audio: readonly Float32Array[]): Promise<Float32Array[]> {
    const padded = new Float32Array(audio.length * PADDED_SAMPLES);
    audio.forEach((a, i) => padForStft(a, padded, i * PADDED_SAMPLES));
    const { input_features: features } = await this.features.run({ audio: new ort.Tensor("float32", padded, [audio.length, PADDED_SAMPLES]) });
    try {
      const out = await this.encoder.run({ input_features: features! }, ["last_hidden_state"]);
      const hidden = out.last_hidden_state!.data as Float32Array;
      const size = hidden.length / audio.length;
      return audio.map((_, i) => hidden.slice(i * size, (i + 1) * size));
    } finally {
      if (features!.location === "gpu-buffer") features!.dispose();
    }
  }

  async release(): Promise<void> {
    await Promise.all([
      this.features.release(),
      this.encoder.release(),
      this.decoder.release(),
      ...(this.cachedDecoder !== this.decoder ? [this.cachedDecoder.release()] : []),
      ...(this.hostSession ? [this.hostSession.then((s) => s.release())] : []),
    ]);
  }
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
    throw new ModelFilesError(
      files.decoderPath,
      `does not match config.json (${layers} decoder layers, merged decoder with use_cache_branch); missing inputs: ${missing.join(", ") || "none, but it has more layers"}`,
    );
  }
}
