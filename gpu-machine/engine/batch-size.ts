import { execFileSync } from "node:child_process";
import type { Device } from "./execution-provider.ts";
import type { ModelConfig } from "./model-dir.ts";

/**
 * How many micro chunks to decode together (WHISPER_BATCH; "auto" decides here).
 * On the CPU, 8: bigger batches cost the same per chunk there. On a GPU, as many
 * as fit in 80 % of the device memory free when the machine starts, up to 64,
 * from an estimate of what one 30 s window holds at its peak: the encoder's
 * attention scores for one layer, its activations, and the decoder's key/value
 * cache (encoder and self, 448 positions) for every layer.
 */
export const CPU_BATCH = 8;
export const MAX_BATCH = 64;
/** When a GPU's free memory cannot be read (no nvidia-smi): a batch that fits any card we would rent. */
export const UNKNOWN_MEMORY_BATCH = 16;

export function windowBytes(
  config: Pick<ModelConfig, "d_model" | "decoder_layers" | "decoder_attention_heads" | "max_source_positions" | "max_target_positions">,
  bytesPerValue: number,
): number {
  const frames = config.max_source_positions;
  const attention = config.decoder_attention_heads * frames * frames;
  const activations = 16 * frames * config.d_model;
  const cache = config.decoder_layers * 2 * (frames + config.max_target_positions) * config.d_model;
  // Half again for what the estimate does not name (workspace, fragmentation).
  return Math.ceil(1.5 * bytesPerValue * (attention + activations + cache));
}

export function batchForMemory(freeBytes: number, perWindowBytes: number): number {
  return Math.max(1, Math.min(MAX_BATCH, Math.floor((0.8 * freeBytes) / perWindowBytes)));
}

/** The first NVIDIA GPU and its memory in MiB, or null where nvidia-smi cannot tell. */
export function gpuMemory(): { name: string; used_mib: number; total_mib: number; free_mib: number } | null {
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=name,memory.used,memory.total,memory.free", "--format=csv,noheader,nounits"], {
      encoding: "utf8",
      timeout: 10_000,
    });
    const [name, used, total, free] = out
      .split("\n")[0]!
      .split(",")
      .map((x) => x.trim());
    return { name: name!, used_mib: Number(used), total_mib: Number(total), free_mib: Number(free) };
  } catch {
    return null;
  }
}

/** Free memory of the first NVIDIA GPU in bytes, or null where nvidia-smi cannot tell. */
export function freeDeviceBytes(): number | null {
  const mib = gpuMemory()?.free_mib;
  return mib !== undefined && Number.isFinite(mib) && mib > 0 ? mib * 2 ** 20 : null;
}

export function chooseBatch(
  requested: number | "auto",
  device: Device,
  config: ModelConfig,
  bytesPerValue: number,
  free: () => number | null = freeDeviceBytes,
): { batch: number; why: string } {
  if (requested !== "auto") return { batch: requested, why: "WHISPER_BATCH" };
  if (device === "cpu") return { batch: CPU_BATCH, why: "the CPU gains nothing from larger batches" };
  const bytes = free();
  if (bytes === null) return { batch: UNKNOWN_MEMORY_BATCH, why: "the GPU's free memory could not be read (no nvidia-smi)" };
  const per = windowBytes(config, bytesPerValue);
  return { batch: batchForMemory(bytes, per), why: `${(bytes / 2 ** 30).toFixed(1)} GiB free, about ${(per / 2 ** 20).toFixed(0)} MiB a window` };
}
