import { z } from "zod";
import type { MachineLabel } from "../../shared/api.ts";

/**
 * What a machine-hour costs, per provider and machine type, in USD. Usage
 * prices each range by the machine that ran it (edge/job/job-view.ts), per
 * second, and the benchmark report prices its measured machine-seconds with
 * the same table (bench/report.ts). MACHINE_PRICES (JSON, same shape) is laid
 * over these defaults, type by type; "*" prices a provider's other types.
 *
 * Defaults, read 2026-12-01 — check your own account before relying on them:
 * - runpod: Secure Cloud on-demand per GPU-hour. A100 80GB PCIe and H100
 *   (SXM, NVL): runpod.io/pricing as transcribed 2026-11-09. L4, RTX A5000,
 *   RTX 4090: RunPod's docs publish no figure (they send readers to the
 *   console); these are list prices seen in 2026 and the least certain here.
 *   RunPod reports each pod's own `costPerHr` in its API; set MACHINE_PRICES
 *   from it for exact figures.
 * - fly: Fly's published per-second prices for dedicated ("performance") CPU
 *   guests (fly.io/docs/about/pricing; $0.0000957/s for performance-8x with
 *   16 GB), times 3600. Fly sells no GPUs after 2026-08-01.
 * - local: `npm start`'s own processes cost nothing.
 */
export const PriceTable = z.record(z.string().min(1), z.record(z.string().min(1), z.number().finite().nonnegative()));
export type PriceTable = z.infer<typeof PriceTable>;

export const DEFAULT_PRICES: PriceTable = {
  runpod: {
    "NVIDIA L4": 0.43,
    "NVIDIA RTX A5000": 0.27,
    "NVIDIA GeForce RTX 4090": 0.69,
    "NVIDIA A100 80GB PCIe": 1.79,
    "NVIDIA H100 80GB HBM3": 3.99,
    "NVIDIA H100 NVL": 3.19,
  },
  fly: {
    "performance-1x-2gb": 0.0432,
    "performance-2x-4gb": 0.086,
    "performance-4x-8gb": 0.1721,
    "performance-8x-16gb": 0.3445,
    "performance-8x-32gb": 0.553,
    "performance-16x-32gb": 0.689,
  },
  local: { "*": 0 },
};

/** The defaults with `overrides` laid over them, provider by provider, type by type. */
export function mergePrices(overrides: PriceTable, defaults: PriceTable = DEFAULT_PRICES): PriceTable {
  const merged: PriceTable = {};
  for (const provider of new Set([...Object.keys(defaults), ...Object.keys(overrides)])) {
    merged[provider] = { ...defaults[provider], ...overrides[provider] };
  }
  return merged;
}

/** $/h of one machine type; `fallback` (MACHINE_PRICE_PER_HOUR_USD) when the table does not name it. */
export function pricePerHour(table: PriceTable, provider: string, machineType: string, fallback: number): number {
  const types = table[provider];
  return types?.[machineType] ?? types?.["*"] ?? fallback;
}

/** What a task was run on, for usage: machines the edge did not start are "unmanaged" at MACHINE_PRICE_PER_HOUR_USD. */
export function unmanagedLabel(pricePerHourUsd: number): MachineLabel {
  return { provider: "unmanaged", machine_type: "unknown", price_per_hour_usd: pricePerHourUsd };
}
