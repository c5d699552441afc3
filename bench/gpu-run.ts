import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { gpuMemory } from "../gpu-machine/engine/batch-size.ts";
import { cudaProviderInstalled, DEVICES, type Device } from "../gpu-machine/engine/execution-provider.ts";
import { writeFloatModel } from "../gpu-machine/engine/float-model.ts";
import { packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import type { WhisperEngine } from "../gpu-machine/engine/whisper-engine.ts";
import { wordErrorRate } from "../gpu-machine/eval/wer.ts";
import { loadWarmEngine, transcribeInMemory } from "./in-memory.ts";
import { benchArg, benchMeta, writeResult } from "./results.ts";

/** The run of `npm run bench:gpu` (bench/gpu.ts); also the entry of the packed bundle (bench/gpu-pack.ts). */
const SAMPLE_RATE = 16_000;
const started = performance.now();
const budgetSec = Number(benchArg("budget-sec", "420"));
const threads = Number(benchArg("threads", "0"));
const batches = benchArg("batches", "1,4,16,64").split(",").map(Number);
const asked = benchArg("devices", "webgpu,cuda").split(",") as Device[];
const minutes = Number(benchArg("minutes", "20"));
const log = (line: string) => process.stderr.write(`[bench:gpu ${((performance.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
const left = () => budgetSec - (performance.now() - started) / 1000;

// ---- audio --------------------------------------------------------------------------
async function audio(): Promise<{ samples: Float32Array; reference: string | null; source: string }> {
  const pcm = benchArg("pcm", "");
  if (pcm) {
    const raw = readFileSync(pcm);
    const s16 = new Int16Array(raw.buffer, raw.byteOffset, raw.byteLength >> 1);
    const samples = Float32Array.from(s16, (v) => v / 32768);
    const ref = benchArg("reference", "");
    return { samples, reference: ref && existsSync(ref) ? readFileSync(ref, "utf8").trim() : null, source: pcm };
  }
  const { excerpt } = await import("./in-memory.ts");
  const { sharedPath } = await import("../test/support/shared-data.ts");
  const file = benchArg("audio", sharedPath("data", "longform", "en-20min.opus"));
  const { samples, reference } = await excerpt(file, minutes);
  return { samples, reference, source: file };
}

// ---- providers ------------------------------------------------------------------------
interface ProviderCheck {
  device: Device;
  starts: boolean;
  detail: string;
}
async function checkProvider(device: Device, floatEncoder: string): Promise<ProviderCheck> {
  if (device === "cpu") return { device, starts: true, detail: "always" };
  if (device === "cuda" && !cudaProviderInstalled())
    return { device, starts: false, detail: "onnxruntime-node has no CUDA provider library here (it comes with ONNXRUNTIME_NODE_INSTALL=cuda12 at install)" };
  try {
    const session = await ort.InferenceSession.create(floatEncoder, { executionProviders: [device], logSeverityLevel: 3 });
    await session.release();
    return { device, starts: true, detail: "a session started" };
  } catch (error) {
    return {
      device,
      starts: false,
      detail:
        (error as Error).message
          .split("\n")
          .find((l) => /adapter|cuda|vulkan/i.test(l))
          ?.trim() ?? (error as Error).message.slice(0, 300),
    };
  }
}

// ---- one run ----------------------------------------------------------------------------
type Variant = "q8" | "fp32" | "fp16";
interface Row {
  model: string;
  variant: Variant;
  device: Device;
  batch: number;
  audio_sec: number;
  wall_sec: number;
  rtf: number;
  x_real_time: number;
  wer: number | null;
  stages: { features_pct: number; encoder_pct: number; decoder_pct: number; other_pct: number };
  gpu_memory_used_mib: number | null;
  rss_mib: number;
}

/** Times the engine's stages by wrapping its feature, encoder and decoder calls. */
function stageClock(engine: WhisperEngine) {
  const spent = { features: 0, encoder: 0, decoder: 0 };
  const wrap = <T extends object>(target: T, key: keyof T & string, bucket: keyof typeof spent) => {
    const original = (target[key] as (...a: unknown[]) => unknown).bind(target);
    (target as Record<string, unknown>)[key] = (...args: unknown[]) => {
      const t = performance.now();
      const result = original(...args);
      if (result instanceof Promise) return result.finally(() => (spent[bucket] += performance.now() - t));
      spent[bucket] += performance.now() - t;
      return result;
    };
  };
  wrap(engine.model.features, "run", "features");
  wrap(engine.model.encoder, "run", "encoder");
  wrap(engine.model.decoder, "run", "decoder");
  if (engine.model.cachedDecoder !== engine.model.decoder) wrap(engine.model.cachedDecoder, "run", "decoder");
  return spent;
}

async function runOne(
  dir: string,
  model: string,
  variant: Variant,
  device: Device,
  batch: number,
  samples: Float32Array,
  reference: string | null,
): Promise<Row> {
  // Warmed up: the first GPU call compiles its kernels.
  const engine = await loadWarmEngine(dir, threads, { device, variant });
  try {
    const spent = stageClock(engine);
    const { segments, wallSec } = await transcribeInMemory(samples, engine, null, batch);
    const audioSec = samples.length / SAMPLE_RATE;
    const ms = wallSec * 1000;
    const pct = (x: number) => +((100 * x) / ms).toFixed(1);
    const memory = gpuMemory();
    return {
      model,
      variant,
      device,
      batch,
      audio_sec: +audioSec.toFixed(1),
      wall_sec: +wallSec.toFixed(2),
      rtf: +(wallSec / audioSec).toFixed(5),
      x_real_time: +(audioSec / wallSec).toFixed(1),
      wer: reference === null ? null : +(wordErrorRate([{ reference, hypothesis: segments.map((s) => s.text).join(" ") }]).wer * 100).toFixed(2),
      stages: {
        features_pct: pct(spent.features),
        encoder_pct: pct(spent.encoder),
        decoder_pct: pct(spent.decoder),
        other_pct: pct(ms - spent.features - spent.encoder - spent.decoder),
      },
      gpu_memory_used_mib: memory?.used_mib ?? null,
      rss_mib: Math.round(process.memoryUsage().rss / 2 ** 20),
    };
  } finally {
    await engine.model.release();
  }
}

// ---- the run ----------------------------------------------------------------------------
const { samples, reference, source } = await audio();
log(`${source}: ${(samples.length / SAMPLE_RATE).toFixed(1)} s of audio${reference ? ", with its reference text" : ", no reference (no WER)"}`);
const sizes = benchArg("models", "tiny,base").split(",");
const explicitDir = benchArg("model-dir", "");
const models = explicitDir
  ? [{ name: explicitDir.split("/").filter(Boolean).pop()!, dir: explicitDir }]
  : sizes.map((s) => ({ name: `whisper-${s}`, dir: packagedModelDir(s as "tiny" | "base") ?? "" }));
const rows: Row[] = [];
const skipped: string[] = [];
const work = mkdtempSync(join(tmpdir(), "bench-gpu-"));
let providers: ProviderCheck[] = [];
try {
  for (const m of models) {
    if (!m.dir || !existsSync(m.dir)) {
      skipped.push(`${m.name}: not installed here`);
      continue;
    }
    const floatDir = join(work, m.name);
    writeFloatModel(m.dir, floatDir, "fp32");
    writeFloatModel(m.dir, floatDir, "fp16");
    if (providers.length === 0) providers = await Promise.all(DEVICES.map((d) => checkProvider(d, join(floatDir, "onnx", "encoder_model.onnx"))));
    for (const p of providers) log(`provider ${p.device}: ${p.starts ? "starts" : "not available"} (${p.detail})`);
    // The reference: the shipped q8 weights on the CPU, at the batch the CPU machines use.
    if (left() > 0) {
      rows.push(await runOne(m.dir, m.name, "q8", "cpu", 8, samples, reference));
      log(JSON.stringify(rows.at(-1)));
    } else skipped.push(`${m.name} q8 on cpu: time budget spent`);
    for (const device of asked) {
      const p = providers.find((x) => x.device === device);
      if (!p?.starts) {
        skipped.push(`${m.name} on ${device}: ${p?.detail ?? "unknown device"}`);
        continue;
      }
      // fp16 over the sweep (what a GPU is for), fp32 at the middle batch beside it.
      const runs: Array<[Variant, number]> = [...batches.map((b): [Variant, number] => ["fp16", b]), ["fp32", batches[Math.floor(batches.length / 2)]!]];
      for (const [variant, batch] of runs) {
        if (left() <= 0) {
          skipped.push(`${m.name} ${variant} on ${device} at batch ${batch}: time budget spent`);
          continue;
        }
        try {
          rows.push(await runOne(floatDir, m.name, variant, device, batch, samples, reference));
          log(JSON.stringify(rows.at(-1)));
        } catch (error) {
          skipped.push(`${m.name} ${variant} on ${device} at batch ${batch}: ${(error as Error).message.slice(0, 300)}`);
        }
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const gpu = gpuMemory();
const machineTag = (gpu?.name ?? "no-gpu")
  .toLowerCase()
  .replace(/[^a-z0-9]+/g, "-")
  .replace(/^-|-$/g, "");
const out = writeResult(`gpu-${machineTag}`, {
  ...benchMeta(),
  host: hostname(),
  gpu,
  audio: `${source.replace(/^.*\/shared\//, "../shared/")}, ${(samples.length / SAMPLE_RATE).toFixed(1)} s`,
  threads,
  providers,
  note: "Engine alone, audio in memory, no VAD (micro chunks cut at quiet points). q8 on the CPU is the shipped weights, the reference; fp16 and fp32 graphs rewritten from them by npm run model -- float (fp16 keeps float32 inputs and outputs). Stage shares are of the wall time: features (log-mel), encoder calls, decoder calls, other (chunking, decode loop in JS, segments).",
  rows,
  skipped,
});
for (const s of skipped) log(`not run: ${s}`);
log(`wrote ${out} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
