import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, readJsonl, sharedPath } from "../../test/support/shared-data.ts";
import { packagedModel } from "../../test/support/whisper-models.ts";
import { wordErrorRate } from "../eval/wer.ts";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { decodeModel, dequantizeModel, encodeModel, opCounts } from "./float-graphs.ts";
import { toHalf } from "./float16-graphs.ts";
import { writeFloatModel } from "./float-model.ts";
import { WhisperEngine } from "./whisper-engine.ts";

const QUANTIZED_OPS = ["MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "DequantizeLinear"];
interface ManifestItem {
  audio: string;
  text: string;
}
const need = missingShared("data/speech/librispeech-test-clean/manifest.jsonl", "data/speech/jfk/manifest.jsonl", "data/speech/ljspeech/manifest.jsonl");

describe("float graphs from the shipped q8 weights", () => {
  let out: string;
  let q8: WhisperEngine;
  let fp32: WhisperEngine;
  let fp16: WhisperEngine;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "whisper-float-"));
    writeFloatModel(await packagedModel("tiny"), out, "fp32");
    writeFloatModel(await packagedModel("tiny"), out, "fp16");
    q8 = await WhisperEngine.load(await packagedModel("tiny"), { threads: 2 });
    fp32 = await WhisperEngine.load(out, { threads: 2, variant: "fp32" });
    fp16 = await WhisperEngine.load(out, { threads: 2, variant: "fp16" });
  }, 120_000);
  afterAll(async () => {
    await q8?.model.release();
    await fp32?.model.release();
    await fp16?.model.release();
    rmSync(out, { recursive: true, force: true });
  });

  it("keeps every graph input and output, and leaves no quantized op, in the subgraphs of the merged decoder too", () => {
    expect(fp32.model.files.variant).toBe("fp32");
    expect(fp16.model.files.variant).toBe("fp16");
    for (const float of [fp32, fp16]) {
      for (const [a, b] of [
        [q8.model.encoder, float.model.encoder],
        [q8.model.decoder, float.model.decoder],
      ] as const) {
        expect(b.inputNames).toEqual(a.inputNames);
        expect(b.outputNames).toEqual(a.outputNames);
      }
    }
    for (const path of [fp32.model.files.encoderPath, fp32.model.files.decoderPath, fp16.model.files.encoderPath, fp16.model.files.decoderPath]) {
      const ops = opCounts(decodeModel(readFileSync(path)));
      expect(QUANTIZED_OPS.filter((op) => ops.has(op))).toEqual([]);
      expect(ops.get("MatMul")).toBeGreaterThan(0);
    }
    // Dequantized once: the packaged tiny q8 has 24 + 2 weight ops in its encoder, 72 in its decoder's branches.
    const decoder = decodeModel(readFileSync(q8.model.files.decoderPath));
    // …and the tied embedding's two DequantizeLinear per branch (the gathered rows; the logits' table, folded once).
    expect(dequantizeModel(decoder)).toMatchObject({ matmuls: 72, convs: 0, folded: 4 });
  });

  it("refuses to write over its source, and says why", async () => {
    const dir = await packagedModel("tiny");
    expect(() => writeFloatModel(dir, dir)).toThrow(/is the source directory/);
  });

  it.skipIf(need.missing)(
    "is no worse than q8 by more than 0.5 WER points on LibriSpeech, JFK and LJSpeech, and reports both speeds",
    async () => {
      const sets = ["librispeech-test-clean", "jfk", "ljspeech"];
      const items = sets.flatMap((set) => readJsonl<ManifestItem>(sharedPath("data", "speech", set, "manifest.jsonl")).map((item) => ({ set, item })));
      const audio = await Promise.all(items.map((c) => decodeWhole(sharedPath("data", "speech", c.set, c.item.audio))));
      const run = async (engine: WhisperEngine) => {
        const started = performance.now();
        const results = await engine.transcribe(audio, { language: "en", batchSize: 8 });
        const sec = (performance.now() - started) / 1000;
        return { sec, wer: wordErrorRate(results.map((r, i) => ({ reference: items[i]!.item.text, hypothesis: r.segments.map((s) => s.text).join(" ") }))) };
      };
      const a = await run(q8);
      const b = await run(fp32);
      const c = await run(fp16);
      const audioSec = audio.reduce((sum, x) => sum + x.length, 0) / 16_000;
      const say = (name: string, r: typeof a) =>
        `${name} WER ${(r.wer.wer * 100).toFixed(2)} % in ${r.sec.toFixed(1)} s (${(audioSec / r.sec).toFixed(1)}× real time)`;
      console.log(
        `whisper-tiny on ${items.length} clips (${audioSec.toFixed(0)} s, ${a.wer.words} words), CPU, 2 threads, batch 8: ${say("q8", a)}; ${say("fp32", b)}; ${say("fp16", c)}`,
      );
      expect(a.wer.words).toBeGreaterThan(400);
      // One-sided: the float graph drops q8's per-tensor activation quantization, so it may be
      // better (it is, on tiny); the weights are the same numbers, so it must not be worse.
      expect((b.wer.wer - a.wer.wer) * 100).toBeLessThanOrEqual(0.5);
      // float16 rounds the same weights and activations once more.
      expect((c.wer.wer - b.wer.wer) * 100).toBeLessThanOrEqual(0.5);
    },
    600_000,
  );
});

describe("the rewrite itself", () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff],
    [1e6, 0x7bff],
    [-3.4e38, 0xfbff],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001],
    [1e-9, 0x0000],
    [6.103515625e-5, 0x0400],
    [1.00048828125, 0x3c00],
    [1.00146484375, 0x3c02],
  ])("writes %d as half 0x%s (nearest even; finite values clamped to ±65504)", (value, half) => {
    expect(toHalf(value)).toBe(half);
  });

  /** x → DynamicQuantizeLinear → MatMulInteger(x_q, W_q, x_zp, W_zp) → Cast → Mul(·, x_scale · W_scale), as quantize_dynamic writes it. */
  function quantizedMatMul(wq: Uint8Array, wzp: number, wscale: Float32Array, k: number, n: number) {
    const { onnx } = onnxProto;
    const T = onnx.TensorProto.DataType;
    const f32 = (a: Float32Array) => new Uint8Array(a.buffer.slice(0));
    return onnx.ModelProto.create({
      irVersion: 7,
      opsetImport: [{ domain: "", version: 11 }],
      graph: {
        name: "g",
        input: [{ name: "x", type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimValue: 2 }, { dimValue: k }] } } } }],
        output: [{ name: "y", type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimValue: 2 }, { dimValue: n }] } } } }],
        initializer: [
          { name: "W_quantized", dims: [k, n], dataType: T.UINT8, rawData: wq },
          { name: "W_zero_point", dims: [], dataType: T.UINT8, int32Data: [wzp] },
          { name: "W_scale", dims: wscale.length === 1 ? [] : [n], dataType: T.FLOAT, rawData: f32(wscale) },
        ],
        node: [
          { opType: "DynamicQuantizeLinear", input: ["x"], output: ["x_q", "x_scale", "x_zp"], name: "dql" },
          { opType: "MatMulInteger", input: ["x_q", "W_quantized", "x_zp", "W_zero_point"], output: ["y_int"], name: "mmi" },
          {
            opType: "Cast",
            input: ["y_int"],
            output: ["y_cast"],
            attribute: [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }],
            name: "cast",
          },
          { opType: "Mul", input: ["x_scale", "W_scale"], output: ["scales"], name: "scales" },
          { opType: "Mul", input: ["y_cast", "scales"], output: ["y"], name: "mul" },
        ],
      },
    });
  }

  it.each([
    ["one scale", new Float32Array([0.02])],
    ["a scale per output column", new Float32Array([0.02, 0.005, 0.1])],
  ])("gives what the quantized graph gives, to float rounding, on input its quantizer represents exactly (%s)", async (_case, wscale) => {
    const k = 4;
    const n = 3;
    const wq = Uint8Array.from({ length: k * n }, (_, i) => (i * 37 + 11) % 256);
    // min −1.28, max 1.27: DynamicQuantizeLinear picks scale 0.01 and zero point 128, so every x is on its grid.
    const x = Float32Array.from([-1.28, 1.27, 0.5, -0.33, 0.01, 0, -0.07, 1.0], (v) => Math.fround(v));
    const quantized = quantizedMatMul(wq, 131, wscale, k, n);
    const float = decodeModel(onnxProto.onnx.ModelProto.encode(quantized).finish());
    expect(dequantizeModel(float)).toEqual({ matmuls: 1, convs: 0, folded: 0, parameters: k * n });
    expect([...opCounts(float).keys()]).toEqual(["MatMul"]);
    const run = async (model: Uint8Array) => {
      const session = await ort.InferenceSession.create(model);
      const out = await session.run({ x: new ort.Tensor("float32", x, [2, k]) });
      await session.release();
      return out.y!.data as Float32Array;
    };
    const want = await run(onnxProto.onnx.ModelProto.encode(quantized).finish());
    const got = await run(encodeModel(float));
    // By hand, too: Σ x · (W_q − 131) · scale.
    const byHand = Array.from({ length: 2 * n }, (_, i) => {
      const [r, c] = [Math.floor(i / n), i % n];
      let sum = 0;
      for (let j = 0; j < k; j++) sum += x[r * k + j]! * (wq[j * n + c]! - 131) * wscale[wscale.length === 1 ? 0 : c]!;
      return sum;
    });
    for (let i = 0; i < 2 * n; i++) {
      expect(got[i]).toBeCloseTo(want[i]!, 4);
      expect(got[i]).toBeCloseTo(byHand[i]!, 4);
    }
  });
});
