import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as ort from "onnxruntime-node";

/**
 * Which onnxruntime execution provider runs the model: the one place that
 * decides it (WHISPER_DEVICE, `--device`).
 * - cpu: always there.
 * - webgpu: bundled with onnxruntime-node 1.30 on Linux (Dawn over Vulkan). It
 *   runs on a GPU's Vulkan driver, or slowly on Mesa's software Vulkan (≥ 25).
 * - cuda: needs the provider library that onnxruntime-node's installer fetches
 *   (ONNXRUNTIME_NODE_INSTALL=cuda12), which only an image build can do.
 * "auto" takes CUDA where its library is installed, else the CPU: WebGPU is
 * only used when asked for, since on a machine without a GPU it is software.
 */
export const DEVICES = ["cpu", "webgpu", "cuda"] as const;
export type Device = (typeof DEVICES)[number];
export type DeviceChoice = Device | "auto";

export class DeviceError extends Error {
  override readonly name = "DeviceError";
}

/** The device to try for `choice`, or why the asked one cannot be had here. */
export function resolveDevice(choice: DeviceChoice): Device {
  if (choice === "auto") return cudaProviderInstalled() ? "cuda" : "cpu";
  if (choice === "cuda" && !cudaProviderInstalled()) {
    throw new DeviceError(
      "WHISPER_DEVICE=cuda, but onnxruntime-node has no CUDA provider here: it is fetched at install time with ONNXRUNTIME_NODE_INSTALL=cuda12 (the Dockerfile's cuda target does this). Use webgpu on a GPU with a Vulkan driver, or cpu.",
    );
  }
  return choice;
}

/** Providers for a session on `device`; the CPU takes what the device's provider does not implement. */
export function sessionProviders(device: Device): ort.InferenceSession.ExecutionProviderConfig[] {
  switch (device) {
    case "cpu":
      return ["cpu"];
    case "webgpu":
      return ["webgpu", "cpu"];
    case "cuda":
      return ["cuda", "cpu"];
  }
}

/** Whether a device batches the encoder: a GPU gains from it; on a CPU it costs the same and mixes chunks' q8 activation scales. */
export function batchesEncoder(device: Device): boolean {
  return device !== "cpu";
}

/**
 * Whether the decoder's KV cache stays on the device between steps
 * (onnxruntime's preferred output location "gpu-buffer", fed back as inputs).
 * onnxruntime-node binds GPU buffers for WebGPU; the CUDA build here is not
 * testable, so CUDA copies through the host as before.
 */
export function keepsStatesOnDevice(device: Device): boolean {
  return device === "webgpu";
}

/** Turns a provider's failure to start into what to do about it. */
export function deviceFailure(device: Device, error: unknown): Error {
  const message = (error as Error)?.message ?? String(error);
  if (device === "webgpu" && /adapter|vulkan|dawn|webgpu/i.test(message)) {
    return new DeviceError(
      `WHISPER_DEVICE=webgpu, but onnxruntime's WebGPU provider found no GPU adapter (${/Failed to get a WebGPU adapter:[^\n]*/.exec(message)?.[0] ?? message.split("\n")[0]!.slice(0, 200)}). It needs a Vulkan driver: NVIDIA's (libvulkan1 and the driver's ICD) on a GPU machine, or Mesa ≥ 25 (mesa-vulkan-drivers from bookworm-backports) to run in software. \`vulkaninfo --summary\` shows what the loader finds.`,
    );
  }
  if (device === "cuda" && /cuda|cudnn|libcu/i.test(message)) {
    return new DeviceError(
      `WHISPER_DEVICE=cuda, but the CUDA provider could not start (${message.slice(0, 300)}): the image needs CUDA 12 and cuDNN 9 (the Dockerfile's cuda target).`,
    );
  }
  return error instanceof Error ? error : new Error(message);
}

/**
 * onnxruntime-node carries only its CPU (and WebGPU) build; the CUDA provider
 * arrives when the machine image runs its installer with
 * --onnxruntime-node-install=cuda12. Looking for the file avoids a loud failed
 * attempt on every CPU start.
 */
export function cudaProviderInstalled(): boolean {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("onnxruntime-node/package.json"));
  return existsSync(join(root, "bin", "napi-v6", `${process.platform}`, `${process.arch}`, "libonnxruntime_providers_cuda.so"));
}
