import { describe, expect, it } from "vitest";
import { readConfig } from "../config.ts";
import { batchForMemory, chooseBatch, CPU_BATCH, MAX_BATCH, UNKNOWN_MEMORY_BATCH, windowBytes } from "./batch-size.ts";

const base = {
  d_model: 512,
  decoder_layers: 6,
  decoder_attention_heads: 8,
  max_source_positions: 1500,
  max_target_positions: 448,
  model_type: "whisper" as const,
  vocab_size: 51865,
  num_mel_bins: 80 as const,
};
const largeV3 = { ...base, d_model: 1280, decoder_layers: 32, decoder_attention_heads: 20, num_mel_bins: 128 as const };
const GiB = 2 ** 30;

describe("batch size from the device", () => {
  it("estimates a window's peak memory: more for a larger model, half in fp16", () => {
    expect(windowBytes(largeV3, 4)).toBeGreaterThan(windowBytes(base, 4));
    expect(windowBytes(base, 2) * 2).toBe(windowBytes(base, 4));
    // whisper-base fp32: attention scores of one layer (72 MB) and its KV cache (48 MB) dominate.
    expect(windowBytes(base, 4) / 2 ** 20).toBeGreaterThan(150);
    expect(windowBytes(base, 4) / 2 ** 20).toBeLessThan(300);
  });

  it.each([
    ["an H200's 139 GiB, base fp16", 139 * GiB, base, 2, MAX_BATCH],
    ["an L4's 22 GiB, large-v3 fp16 (about 0.7 GB a window)", 22 * GiB, largeV3, 2, 26],
    ["a nearly full card", 0.1 * GiB, largeV3, 2, 1],
  ] as const)("%s", (_case, free, config, bytes, batch) => {
    expect(batchForMemory(free, windowBytes(config, bytes))).toBe(batch);
  });

  it("keeps a number it is given, takes 8 on the CPU, and a safe 16 on a GPU whose memory it cannot read", () => {
    expect(chooseBatch(12, "webgpu", base, 2).batch).toBe(12);
    expect(chooseBatch("auto", "cpu", base, 4).batch).toBe(CPU_BATCH);
    expect(chooseBatch("auto", "webgpu", base, 2, () => null)).toMatchObject({ batch: UNKNOWN_MEMORY_BATCH });
    expect(chooseBatch("auto", "cuda", base, 2, () => 139 * GiB)).toMatchObject({ batch: MAX_BATCH, why: expect.stringContaining("139.0 GiB free") });
  });

  it("WHISPER_BATCH is auto unless set", () => {
    expect(readConfig({}).WHISPER_BATCH).toBe("auto");
    expect(readConfig({ WHISPER_BATCH: "4" }).WHISPER_BATCH).toBe(4);
    expect(() => readConfig({ WHISPER_BATCH: "lots" })).toThrow(/WHISPER_BATCH/);
  });
});
