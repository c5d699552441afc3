import { accessSync, chmodSync, constants, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { MediaError } from "./errors.ts";

/**
 * Where ffmpeg and ffprobe come from, decided in this one place:
 * FFMPEG_PATH / FFPROBE_PATH, then a system ffmpeg on PATH (Debian's 5.1 in CI and
 * in the Docker image), then the builds shipped inside npm packages
 * (@ffmpeg-installer/ffmpeg 4.1, @ffprobe-installer/ffprobe 5.2), so that
 * `npm install && npm start` works on a machine with no ffmpeg at all.
 */
export type BinarySource = "env" | "system" | "packaged";

export interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
  source: BinarySource;
}

export interface BinaryEnv {
  FFMPEG_PATH?: string | undefined;
  FFPROBE_PATH?: string | undefined;
  PATH?: string | undefined;
}

export function resolveBinaries(env: BinaryEnv = process.env): FfmpegBinaries {
  if (env.FFMPEG_PATH || env.FFPROBE_PATH) {
    if (!env.FFMPEG_PATH || !env.FFPROBE_PATH) {
      throw new MediaError("ffmpeg_missing", "Set both FFMPEG_PATH and FFPROBE_PATH, or neither.");
    }
    for (const p of [env.FFMPEG_PATH, env.FFPROBE_PATH]) {
      if (!isExecutable(p)) throw new MediaError("ffmpeg_missing", `${p} (from FFMPEG_PATH/FFPROBE_PATH) is not an executable file.`);
    }
    return { ffmpeg: env.FFMPEG_PATH, ffprobe: env.FFPROBE_PATH, source: "env" };
  }
  const system = systemBinaries(env.PATH);
  if (system) return system;
  const packaged = packagedBinaries();
  if (packaged) return packaged;
  throw new MediaError(
    "ffmpeg_missing",
    "No ffmpeg found: run `npm install` (it ships one), install ffmpeg (apt-get install ffmpeg), or set FFMPEG_PATH and FFPROBE_PATH.",
  );
}

/** Every distinct ffmpeg this machine can use, for tests that must pass on each. */
export function availableBinaries(env: BinaryEnv = process.env): FfmpegBinaries[] {
  return [systemBinaries(env.PATH), packagedBinaries()].filter((b): b is FfmpegBinaries => b !== null);
}

export function systemBinaries(pathVar: string | undefined): FfmpegBinaries | null {
  const ffmpeg = onPath("ffmpeg", pathVar);
  const ffprobe = onPath("ffprobe", pathVar);
  return ffmpeg && ffprobe ? { ffmpeg, ffprobe, source: "system" } : null;
}

export function packagedBinaries(): FfmpegBinaries | null {
  const require = createRequire(import.meta.url);
  try {
    const ffmpeg = (require("@ffmpeg-installer/ffmpeg") as { path: string }).path;
    const ffprobe = (require("@ffprobe-installer/ffprobe") as { path: string }).path;
    // npm may skip the packages' `chmod u+x` install step (install scripts off);
    // the binary is ours to fix since it lives in our node_modules.
    for (const p of [ffmpeg, ffprobe]) ensureExecutable(p);
    return { ffmpeg, ffprobe, source: "packaged" };
  } catch {
    return null;
  }
}

function onPath(name: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? "").split(delimiter)) {
    if (!dir || dir.includes("node_modules")) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function ensureExecutable(path: string): void {
  if (!existsSync(path)) throw new Error(`missing ${path}`);
  if (!isExecutable(path)) chmodSync(path, 0o755);
}
