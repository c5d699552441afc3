import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeModel, dequantizeModel, encodeModel, type FloatStats } from "./float-graphs.ts";
import { ModelFilesError, openModelDir, VARIANTS } from "./model-dir.ts";

export interface FloatModelReport {
  out: string;
  graphs: Array<{ file: string; bytes: number; stats: FloatStats }>;
}

/**
 * Writes a float32 copy of a quantized Whisper export in the same Hugging Face
 * layout (config and tokenizer files copied, onnx/encoder_model.onnx and
 * onnx/decoder_model_merged.onnx), which the engine loads as the "fp32" variant.
 */
export function writeFloatModel(source: string, out: string): FloatModelReport {
  const model = openModelDir(source, "q8");
  if (model.dir === out) throw new ModelFilesError(out, "is the source directory: write the float copy elsewhere (--out)");
  mkdirSync(join(out, "onnx"), { recursive: true });
  for (const name of readdirSync(source)) {
    const path = join(source, name);
    if (statSync(path).isFile()) copyFileSync(path, join(out, name));
  }
  const graphs: FloatModelReport["graphs"] = [];
  for (const [from, to] of [
    [model.encoderPath, `encoder_model${VARIANTS.fp32}.onnx`],
    [model.decoderPath, `decoder_model_merged${VARIANTS.fp32}.onnx`],
  ] as const) {
    const graph = decodeModel(readFileSync(from));
    const stats = dequantizeModel(graph);
    if (stats.matmuls + stats.convs === 0) throw new ModelFilesError(from, "has no dynamically quantized MatMul or Conv: it is float already, or quantized another way");
    const bytes = encodeModel(graph);
    writeFileSync(join(out, "onnx", to), bytes);
    graphs.push({ file: join(out, "onnx", to), bytes: bytes.length, stats });
  }
  return { out, graphs };
}
