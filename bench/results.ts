import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../test/support/shared-data.ts";

/** When, where and on what a benchmark ran: every results file carries it. */
export function benchMeta(): { date: string; commit: string; machine: string; node: string } {
  // A packed bundle (bench/gpu-pack.ts) runs outside any checkout and carries its commit.
  let commit = process.env.BENCH_COMMIT ?? "unknown";
  if (!process.env.BENCH_COMMIT)
    try {
      commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    } catch {
      // not a git checkout
    }
  return {
    date: new Date().toISOString(),
    commit,
    machine: `${cpus()[0]?.model ?? "cpu"} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GB`,
    node: process.version,
  };
}

/** bench/results/<name>.json (BENCH_RESULTS_DIR overrides the folder, for tests). */
export function writeResult(name: string, data: object): string {
  const dir = process.env.BENCH_RESULTS_DIR ?? join(REPO_ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** `--name value` from the command line, or `fallback`. */
export function benchArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return (i > 0 ? process.argv[i + 1] : undefined) ?? fallback;
}
