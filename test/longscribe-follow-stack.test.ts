import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../cli/cli-io.ts";
import { main } from "../cli/longscribe.ts";
import type { CreatedTranscription } from "../shared/api.ts";
import { startLocalEdge, type LocalEdge } from "./support/local-edge.ts";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, REPO_ROOT, sharedPath } from "./support/shared-data.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "./support/test-secrets.ts";
import { packagedModel } from "./support/whisper-models.ts";

const need = missingShared("data/formats/excerpt.mp3");
const KEY = TEST_API_KEYS[0];

/**
 * The CLI following a real job's live events: wrangler dev, one whisper-tiny
 * machine process, the 70 s excerpt. What it prints as segments come must be
 * the transcript the API serves once the job is done.
 */
describe.skipIf(need.missing)("longscribe follow and transcribe --wait on the local stack", () => {
  let edge: LocalEdge;
  let media: MediaServer;
  let machine: ChildProcess;
  let machineLog = "";

  beforeAll(async () => {
    const model = await packagedModel("tiny");
    edge = await startLocalEdge({ API_KEYS: TEST_API_KEYS.join(","), WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY, MACHINE_TOKEN: TEST_MACHINE_TOKEN });
    media = await startMediaServer({ "/excerpt.mp3": { file: sharedPath("data", "formats", "excerpt.mp3") } });
    // Batch 1: a post per micro chunk, so that segments come in several merges.
    machine = spawn(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", "serve", "--model", model, "--threads", "2", "--batch", "1"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        EDGE_URL: edge.url,
        MACHINE_TOKEN: TEST_MACHINE_TOKEN,
        MACHINE_ID: "machine-follow",
        IDLE_EXIT_SEC: "600",
        ALLOW_PRIVATE_MEDIA: "1",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    machine.stderr?.on("data", (d: Buffer) => (machineLog = (machineLog + d.toString()).slice(-20_000)));
  }, 120_000);

  afterAll(async () => {
    machine?.kill("SIGKILL");
    await media?.close();
    await edge?.stop();
  });

  /** Runs the CLI in-process; `writes` keeps stdout and stderr in the order written. */
  const cli = async (args: string[]) => {
    let stdout = "";
    let stderr = "";
    const writes: Array<["out" | "err", string]> = [];
    const io: Partial<CliIo> = {
      stdout: { write: (t: string) => writes.push(["out", t]) && (stdout += t) },
      stderr: { write: (t: string) => writes.push(["err", t]) && (stderr += t) },
      isTTY: false,
      env: {},
      cwd: REPO_ROOT,
      pollMs: 500,
      signal: undefined,
    };
    const code = await main([...args, "--api", edge.url, "--key", KEY], io);
    return { code, stdout, stderr, writes };
  };
  /** Segments were printed in several pieces, the first before the progress line that says completed. */
  const expectStreamed = (writes: Array<["out" | "err", string]>) => {
    const done = writes.findIndex(([to, t]) => to === "err" && t.startsWith("completed "));
    expect(done).toBeGreaterThan(0);
    expect(writes.findIndex(([to]) => to === "out")).toBeLessThan(done);
    expect(writes.filter(([to]) => to === "out").length).toBeGreaterThan(1);
  };
  const transcript = async (id: string, format: string) =>
    (await fetch(`${edge.url}/v1/transcriptions/${id}/transcript?format=${format}`, { headers: { authorization: `Bearer ${KEY}` } })).text();

  it("follow --format text prints, a line per segment as they are merged, the transcript the API serves at the end", async () => {
    const response = await fetch(`${edge.url}/v1/transcriptions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ audio_url: media.url("/excerpt.mp3"), language: "en" }),
    });
    const created = (await response.json()) as CreatedTranscription;
    expect(response.status, JSON.stringify(created)).toBe(202);
    const { code, stdout, stderr, writes } = await cli(["follow", created.id, "--format", "text"]);
    expect(code, `${stderr}\n${machineLog}`).toBe(0);
    expectStreamed(writes);
    const lines = stdout.split("\n").slice(0, -1);
    expect(lines.length).toBeGreaterThan(3);
    // The text format is the same segments joined by a space (English).
    expect(`${lines.join(" ")}\n`).toBe(await transcript(created.id, "text"));
    // Followed again once it has ended (the stream then gives only the final status): the whole transcript.
    const again = await cli(["follow", created.id, "--format", "text"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(stdout);
  }, 240_000);

  it("transcribe --wait --format srt streams cues that end up exactly the SRT the API serves", async () => {
    const { code, stdout, stderr, writes } = await cli(["transcribe", media.url("/excerpt.mp3"), "--wait", "--format", "srt", "--language", "en"]);
    expect(code, `${stderr}\n${machineLog}`).toBe(0);
    expectStreamed(writes);
    const id = /^id\s+(tr_\S+)$/m.exec(stderr)?.[1];
    expect(id).toBeDefined();
    expect(stdout).toMatch(/^1\n00:00:\d\d,\d{3} --> /);
    expect(stdout).toBe(await transcript(id!, "srt"));
  }, 240_000);
});
