import { join } from "node:path";
import { env, pipeline } from "@huggingface/transformers";
import type { AutomaticSpeechRecognitionOutput, ProgressInfo } from "@huggingface/transformers";
import { REPO_ROOT } from "../test/support/shared-data.ts";

/**
 * transformers.js (the general-purpose Whisper implementation) on the same
 * quantized Xenova ONNX export our engine loads, from the same npm package, so
 * the benchmark and the test fixture compare implementations and not weights.
 * It shares onnxruntime-node 1.30.0 with the engine (one native library in the
 * process). Nothing is fetched: remote models are off.
 */
export type WhisperSize = "tiny" | "base";

type AsrOptions = { language: string; task: "transcribe"; chunk_length_s?: number; return_timestamps?: boolean };
/** The slice of the ASR pipeline used here; `pipeline()`'s own return type is a large union. */
type Transcriber = ((audio: Float32Array, options: AsrOptions) => Promise<AutomaticSpeechRecognitionOutput>) & { dispose(): Promise<void> };

export const TRANSFORMERS_DTYPE = "q8";
const SAMPLE_RATE = 16_000;
/** transformers.js's own long-form mode: 30 s windows, 5 s stride (its default chunk_length_s / 6). */
const CHUNK_LENGTH_S = 30;

export interface TransformersJs {
  model: string;
  loadSec: number;
  onnxFiles: string[];
  /**
   * Greedy English transcription, the pipeline's defaults; chunked when over 30 s.
   * `timestamps` asks for segment times, which is also what makes its long-form
   * stitching keep the text: without them, windows are joined by token overlap
   * alone and whole stretches go missing (WER 44 % against 10 % on the first
   * 2 minutes of the long-form file with whisper-base).
   */
  transcribe(samples: Float32Array, options?: { timestamps?: boolean }): Promise<string>;
  dispose(): Promise<void>;
}

export function transformersVersion(): string {
  return env.version;
}

export async function loadTransformersJs(size: WhisperSize, threads: number): Promise<TransformersJs> {
  const model = `Xenova/whisper-${size}`;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${join(REPO_ROOT, "node_modules", `sts-whisper-${size}`, "models")}/`;
  const files = new Set<string>();
  const t0 = performance.now();
  const asr: Transcriber = await pipeline("automatic-speech-recognition", model, {
    dtype: TRANSFORMERS_DTYPE,
    device: "cpu",
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
    progress_callback: (p: ProgressInfo) => {
      if (p.status === "done" && p.file.endsWith(".onnx")) files.add(p.file);
    },
  });
  const loadSec = (performance.now() - t0) / 1000;
  const onnxFiles = [...files].sort();
  if (onnxFiles.length === 0 || !onnxFiles.every((f) => f.endsWith("_quantized.onnx"))) {
    throw new Error(`${model}: expected only *_quantized.onnx files, loaded [${onnxFiles.join(", ")}]`);
  }
  const transcribe = async (samples: Float32Array, { timestamps = false } = {}) => {
    const long = samples.length / SAMPLE_RATE > 30;
    const out = await asr(samples, {
      language: "english",
      task: "transcribe",
      ...(long ? { chunk_length_s: CHUNK_LENGTH_S } : {}),
      ...(long && timestamps ? { return_timestamps: true } : {}),
    });
    return out.text.trim();
  };
  await transcribe(new Float32Array(SAMPLE_RATE)); // warm-up, as for our engine
  return { model, loadSec, onnxFiles, transcribe, dispose: () => asr.dispose() };
}
