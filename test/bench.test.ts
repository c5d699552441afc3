import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/shared-data.ts";

const run = promisify(execFile);

/** Benchmarks are not timed tests: this only checks that each runs on a tiny input and writes valid results. */
describe("benchmarks run on a tiny input and write valid results", () => {
  const dir = mkdtempSync(join(tmpdir(), "bench-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, BENCH_RESULTS_DIR: dir };

  it("scaling (simulated inference), edge latency, and the report with its charts", async () => {
    await run(process.execPath, ["--import", "tsx", "bench/scaling.ts", "--hours", "0.1", "--machines", "1,2", "--target-sec", "3"], { cwd: REPO_ROOT, env, timeout: 240_000 });
    const scaling = JSON.parse(readFileSync(join(dir, "scaling.json"), "utf8")) as { commit: string; note: string; rows: Array<{ machines: number; wall_sec: number; efficiency_pct: number; ranges: number }> };
    expect(scaling.note).toContain("not the model");
    expect(scaling.rows.map((r) => r.machines)).toEqual([1, 2]);
    for (const r of scaling.rows) {
      expect(r.wall_sec).toBeGreaterThan(0);
      expect(r.efficiency_pct).toBeGreaterThan(0);
      expect(r.ranges).toBeGreaterThanOrEqual(2);
    }
    await run(process.execPath, ["--import", "tsx", "bench/edge.ts", "--seconds", "1", "--concurrency", "2"], { cwd: REPO_ROOT, env, timeout: 120_000 });
    const edge = JSON.parse(readFileSync(join(dir, "edge.json"), "utf8")) as { status_polls: { requests: number; failed: number }; segment_posts: { requests: number; failed: number } };
    expect(edge.status_polls.requests).toBeGreaterThan(0);
    expect(edge.segment_posts.requests).toBeGreaterThan(0);
    expect(edge.status_polls.failed + edge.segment_posts.failed).toBe(0);
    await run(process.execPath, ["--import", "tsx", "bench/report.ts"], { cwd: REPO_ROOT, env, timeout: 60_000 });
    const md = readFileSync(join(dir, "README.md"), "utf8");
    expect(md).toContain("## 3. Scaling to many machines");
    expect(md).toContain("POST …/segments");
    expect(md).toMatch(/\| 2 \| [\d.]+ \|/);
    expect(existsSync(join(dir, "scaling-efficiency.svg"))).toBe(true);
    expect(readFileSync(join(dir, "scaling-efficiency.svg"), "utf8")).toMatch(/^<svg/);
  }, 300_000);
});
