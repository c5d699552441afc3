import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, readJsonl, REPO_ROOT, sharedPath } from "../../test/support/shared-data.ts";
import { packagedModel } from "../../test/support/whisper-models.ts";
import { normalizeEnglish } from "../eval/english-normalizer.ts";
import { writeFloatModel } from "./float-model.ts";
import { WhisperEngine } from "./whisper-engine.ts";

const run = promisify(execFile);
const jfk = missingShared("data/speech/jfk/jfk.wav", "data/speech/ljspeech/manifest.jsonl");

/** Whether a WebGPU adapter exists here: a GPU's Vulkan driver, or Mesa's software one (.ci/run installs it). */
async function webgpuAdapter(): Promise<string | null> {
  const dir = mkdtempSync(join(tmpdir(), "webgpu-probe-"));
  try {
    writeFloatModel(await packagedModel("tiny"), dir);
    const session = await ort.InferenceSession.create(join(dir, "onnx", "encoder_model.onnx"), { executionProviders: ["webgpu"], logSeverityLevel: 3 });
    await session.release();
    return null;
  } catch (error) {
    return (error as Error).message.split("\n")[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const noAdapter = await webgpuAdapter();
if (noAdapter)
  console.warn(`WebGPU tests skipped: no adapter (${noAdapter}). Install a Vulkan driver: mesa-vulkan-drivers from bookworm-backports (see the README).`);

describe("asking for a device that is not here", () => {
  it.each([
    [
      "webgpu",
      { VK_DRIVER_FILES: "/nonexistent/icd.json", VK_ICD_FILENAMES: "/nonexistent/icd.json" },
      /WHISPER_DEVICE=webgpu, but onnxruntime's WebGPU provider found no GPU adapter.*Vulkan driver/,
    ],
    ["cuda", {}, /WHISPER_DEVICE=cuda, but onnxruntime-node has no CUDA provider here/],
  ] as const)(
    "--device %s fails with what to do",
    async (device, env, message) => {
      const failed = (await run(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", "transcribe", "package.json", "--device", device], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
      }).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(message);
    },
    60_000,
  );
});

describe.skipIf(noAdapter !== null || jfk.missing)("the engine on WebGPU", () => {
  let dir: string;
  let cpu: WhisperEngine;
  let webgpu: WhisperEngine;
  const lines: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "whisper-fp32-webgpu-"));
    writeFloatModel(await packagedModel("tiny"), dir);
    cpu = await WhisperEngine.load(dir, { device: "cpu", threads: 2 });
    webgpu = await WhisperEngine.load(dir, { device: "webgpu", threads: 2, log: (l) => lines.push(l) });
  }, 120_000);
  afterAll(async () => {
    await cpu?.model.release();
    await webgpu?.model.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it("says which provider runs the graphs", () => {
    expect(webgpu.model.device).toBe("webgpu");
    expect(lines).toEqual([expect.stringMatching(/features, encoder and decoder on webgpu \+ cpu; KV cache kept on the device$/)]);
    expect(webgpu.model.statesOnDevice).toBe(true);
    expect(cpu.model.statesOnDevice).toBe(false);
  });

  it("computes features and encodes a window as the CPU provider does", async () => {
    const audio = await decodeWhole(sharedPath("data", "speech", "jfk", "jfk.wav"));
    const [a] = await cpu.model.encode([audio]);
    const [b] = await webgpu.model.encode([audio]);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < a!.length; i++) {
      worst = Math.max(worst, Math.abs(a![i]! - b![i]!));
      scale = Math.max(scale, Math.abs(a![i]!));
    }
    console.log(`encoder window, webgpu vs cpu: largest difference ${worst.toExponential(2)} of values up to ${scale.toFixed(1)}`);
    expect(worst / scale).toBeLessThan(1e-3);
  }, 120_000);

  it("transcribes a clip end to end (features, encoder, every decoder step) to the CPU provider's text and word times", async () => {
    const audio = await decodeWhole(sharedPath("data", "speech", "jfk", "jfk.wav"));
    const [a] = await cpu.transcribe([audio], { language: "en", batchSize: 1, wordTimestamps: true });
    const started = performance.now();
    const [b] = await webgpu.transcribe([audio], { language: "en", batchSize: 1, wordTimestamps: true });
    console.log(`jfk.wav on webgpu (software Vulkan here): ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const text = (r: typeof a) => normalizeEnglish(r!.segments.map((s) => s.text).join(" "));
    expect(text(b)).toBe(text(a));
    expect(text(b)).toContain("ask not what your country can do for you");
    // The device keeps its cross-attention; the words are timed from a pass on the host.
    const words = (r: typeof a) => r!.segments.flatMap((s) => s.words ?? []);
    expect(words(b).map((w) => w.word)).toEqual(words(a).map((w) => w.word));
    expect(words(b).length).toBeGreaterThan(15);
    words(b).forEach((w, i) => {
      expect(Math.abs(w.startSec - words(a)[i]!.startSec)).toBeLessThanOrEqual(0.04);
      expect(Math.abs(w.endSec - words(a)[i]!.endSec)).toBeLessThanOrEqual(0.04);
    });
  }, 300_000);

  it("conditions on a prompt (one first call of prompt and start-of-transcript, language detected apart) as the CPU provider does", async () => {
    const audio = await decodeWhole(sharedPath("data", "speech", "jfk", "jfk.wav"));
    const options = { language: "auto", prompt: "hello everyone welcome back to the show today we talk about the news of the week", batchSize: 1 };
    const [a] = await cpu.transcribe([audio], options);
    const [b] = await webgpu.transcribe([audio], options);
    const text = (r: typeof a) => r!.segments.map((s) => s.text).join(" ");
    expect(text(b)).toBe(text(a));
    expect(text(b)).toMatch(/^and so my fellow americans ask not[^,.]*$/i);
    expect(b!.languageProbs!.en).toBeCloseTo(a!.languageProbs!.en!, 4);
  }, 300_000);

  it("decodes a batch whose sequences end at different steps, the states staying on the device, to the CPU provider's texts", async () => {
    // Two clips of different lengths (4 and 15 words): the shorter one ends first and rides
    // along on end-of-text. Short ones, since each step costs seconds on software Vulkan.
    const items = readJsonl<{ audio: string; duration_sec: number }>(sharedPath("data", "speech", "ljspeech", "manifest.jsonl")).sort(
      (x, y) => x.duration_sec - y.duration_sec,
    );
    const audio = await Promise.all([items[0]!, items[3]!].map((item) => decodeWhole(sharedPath("data", "speech", "ljspeech", item.audio))));
    const a = await cpu.transcribe(audio, { language: "en", batchSize: 2 });
    const b = await webgpu.transcribe(audio, { language: "en", batchSize: 2 });
    const texts = (rs: typeof a) => rs.map((r) => normalizeEnglish(r.segments.map((s) => s.text).join(" ")));
    expect(texts(b)).toEqual(texts(a));
    expect(texts(b)[0]!.split(" ").length).toBeLessThan(texts(b)[1]!.split(" ").length);
  }, 300_000);
});
