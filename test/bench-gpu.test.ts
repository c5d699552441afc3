import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PART_BYTES } from "../bench/gpu-pack.ts";
import { missingShared, REPO_ROOT } from "./support/shared-data.ts";

const run = promisify(execFile);
const need = missingShared("data/longform/en-20min.opus");

/** Where sh finds a tool, for a PATH that holds only the tools a bare GPU box has. */
async function which(tool: string): Promise<string> {
  return (await run("sh", ["-c", `command -v ${tool}`])).stdout.trim();
}

describe.skipIf(need.missing)("the GPU benchmark's packed bundle", () => {
  const dir = mkdtempSync(join(tmpdir(), "gpu-bundle-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("packs into parts of at most 60 MB and runs where there is no Node, no node_modules and no checkout", async () => {
    const packed = join(dir, "packed");
    await run(process.execPath, ["--import", "tsx", "bench/gpu.ts", "--pack", packed, "--minutes", "0.5"], { cwd: REPO_ROOT, timeout: 240_000 });
    const parts = readdirSync(packed).filter((f) => f.includes(".part-"));
    expect(parts.length).toBeGreaterThanOrEqual(1);
    for (const p of parts) expect(statSync(join(packed, p)).size).toBeLessThanOrEqual(PART_BYTES);

    // A box with sh, cat, tar and gzip on its PATH, and nothing of ours.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    for (const tool of ["sh", "cat", "tar", "gzip", "dirname", "mkdir"]) symlinkSync(await which(tool), join(bin, tool));
    const box = join(dir, "box");
    mkdirSync(box);
    for (const f of readdirSync(packed)) symlinkSync(join(packed, f), join(box, f));
    const { stderr } = await run(join(bin, "sh"), ["run-gpu-bench.sh", "--devices", "cpu", "--batches", "4"], {
      cwd: box,
      env: { PATH: bin, HOME: box },
      timeout: 240_000,
    });
    expect(stderr).toMatch(/provider cpu: starts/);
    const [file] = readdirSync(join(box, "results"));
    const result = JSON.parse(readFileSync(join(box, "results", file!), "utf8")) as {
      commit: string;
      providers: Array<{ device: string; starts: boolean }>;
      skipped: string[];
      rows: Array<{
        model: string;
        variant: string;
        device: string;
        batch: number;
        audio_sec: number;
        x_real_time: number;
        wer: number | null;
        stages: Record<string, number>;
      }>;
    };
    expect(result.commit).toMatch(/^[0-9a-f]{7,}$/);
    expect(result.providers.map((p) => p.device)).toEqual(["cpu", "webgpu", "cuda"]);
    expect(result.rows.map((r) => [r.model, r.variant, r.device, r.batch])).toEqual([
      ["whisper-tiny", "q8", "cpu", 8],
      ["whisper-tiny", "fp16", "cpu", 4],
      ["whisper-tiny", "fp32", "cpu", 4],
    ]);
    for (const r of result.rows) {
      expect(r.audio_sec).toBeGreaterThanOrEqual(30);
      expect(r.x_real_time).toBeGreaterThan(0);
      // Real speech through real weights: a broken bundle would read as nonsense.
      expect(r.wer).toBeLessThan(45);
      const shares = Object.values(r.stages).reduce((a, b) => a + b, 0);
      expect(Math.abs(shares - 100)).toBeLessThan(1);
    }
  }, 600_000);
});
