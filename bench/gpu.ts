import { benchArg } from "./results.ts";

/**
 * `npm run bench:gpu`: the engine on whatever GPU this machine has, as one
 * prepared command. It finds the execution providers that start here, writes
 * float16 and float32 graphs of each model from its q8 weights, runs the
 * recording through the engine (features to segments, micro chunks decoded in
 * batches) on every GPU provider, fp16 over a batch sweep and fp32 beside it,
 * with q8 on the CPU as the reference, and
 * writes bench/results/gpu-<machine>.json: RTF, WER, each stage's share of the
 * wall time, and device memory where nvidia-smi can tell. What it could not
 * run, it says. It stops starting runs when its time budget is spent.
 *
 *   npm run bench:gpu [-- --audio FILE | --pcm FILE.s16 --reference FILE.txt] [--minutes 20]
 *     [--models tiny,base] [--model-dir DIR] [--batches 1,4,16,64] [--devices webgpu,cuda]
 *     [--threads 0] [--budget-sec 420]
 *   npm run bench:gpu -- --pack DIR   a bundle for a GPU box without Node (bench/gpu-pack.ts)
 */
if (process.argv.includes("--pack")) {
  const { pack } = await import("./gpu-pack.ts");
  const dir = benchArg("pack", "");
  if (!dir || dir.startsWith("--")) throw new Error("--pack needs a folder to write the bundle to");
  await pack(dir, { minutes: Number(benchArg("minutes", "20")) });
} else {
  await import("./gpu-run.ts");
}
