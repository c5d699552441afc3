import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeModel, dequantizeModel, encodeModel, type FloatStats } from "./float-graphs.ts";
import { toFloat16 } from "./float16-graphs.ts";
import { ModelFilesError, openModelDir, VARIANTS } from "./model-dir.ts";

export interface FloatModelReport {
  out: string;
  graphs: Array<{ file: string; bytes: number; stats: FloatStats }>;
}

export type FloatPrecision = "fp32" | "fp16";

/**
 * Writes a float copy of a quantized Whisper export in the same Hugging Face
 * layout (config and tokenizer files copied; onnx/encoder_model.onnx and
 * onnx/decoder_model_merged.onnx, or their _fp16 names), which the engine
 * loads as the "fp32" or "fp16" variant. fp16 keeps float32 inputs and outputs.
 */
export function writeFloatModel(source: string, out: string, precision: FloatPrecision = "fp32"): FloatModelReport {
  const model = openModelDir(source, "q8");
  if (model.dir === out) throw new ModelFilesError(out, "is the source directory: write the float copy elsewhere (--out)");
  mkdirSync(join(out, "onnx"), { recursive: true });
  for (const name of readdirSync(source)) {
    const path = join(source, name);
    if (statSync(path).isFile()) copyFileSync(path, join(out, name));
  }
  const graphs: FloatModelReport["graphs"] = [];
  for (const [from, to] of [
    [model.encoderPath, `encoder_model${VARIANTS[precision]}.onnx`],
    [model.decoderPath, `decoder_model_merged${VARIANTS[precision]}.onnx`],
  ] as const) {
    const graph = decodeModel(readFileSync(from));
    const stats = dequantizeModel(graph);
    if (stats.matmuls + stats.convs === 0)
      throw new ModelFilesError(from, "has no dynamically quantized MatMul or Conv: it is float already, or quantized another way");
    if (precision === "fp16") toFloat16(graph);
    const bytes = encodeModel(graph);
    writeFileSync(join(out, "onnx", to), bytes);
    graphs.push({ file: join(out, "onnx", to), bytes: bytes.length, stats });
  }
  return { out, graphs };
}
