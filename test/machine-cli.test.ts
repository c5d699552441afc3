import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, REPO_ROOT, sharedPath } from "./support/shared-data.ts";

const run = promisify(execFile);
const shared = missingShared("data/formats/excerpt.opus");
const cli = (...args: string[]) => run(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", ...args], { cwd: REPO_ROOT });

describe.skipIf(shared.missing)("npm run machine", () => {
  let server: MediaServer;
  beforeAll(async () => {
    server = await startMediaServer({ "/excerpt.opus": { file: sharedPath("data", "formats", "excerpt.opus") } });
  });
  afterAll(() => server?.close());

  it("plan prints the plan as JSON", async () => {
    const { stdout } = await cli("plan", server.url("/excerpt.opus"), "--macro-chunk-sec", "30");
    const plan = JSON.parse(stdout);
    expect(plan).toMatchObject({ codec: "opus", container: "ogg", sampleRate: 48000, channels: 1, durationSource: "container" });
    expect(plan.ranges).toHaveLength(3);
  }, 30_000);

  it("chunks prints one line per micro chunk and a final line with bytes read", async () => {
    server.reset();
    const { stdout } = await cli("chunks", server.url("/excerpt.opus"), "--from", "10", "--to", "60", "--no-vad");
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
    const last = lines.pop();
    expect(last.bytesRead).toBe(server.bytesSent("/excerpt.opus"));
    expect(lines[0]).toMatchObject({ rangeIndex: 0, seq: 0, startSec: 10 });
    expect(lines.at(-1).endSec).toBe(60);
    expect(lines.every((l) => !("samples" in l))).toBe(true);
  }, 30_000);

  it("says what to do on bad usage", async () => {
    const error = (await cli("chunks", "/tmp/file.mp3").catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(error.code).toBe(2);
    expect(error.stderr).toMatch(/not an http\(s\) URL/);
    expect(error.stderr).toMatch(/usage:/);
  }, 30_000);
});
