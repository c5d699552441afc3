import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfig } from "../gpu-machine/config.ts";
import { type ChunkEngine, type TranscribeOptions, WhisperEngine } from "../gpu-machine/engine/whisper-engine.ts";
import { resolveBinaries } from "../gpu-machine/media/ffmpeg-binaries.ts";
import { Machine } from "../gpu-machine/runtime/machine.ts";
import type { Task } from "../shared/protocol.ts";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, sharedPath } from "./support/shared-data.ts";
import { packagedModel } from "./support/whisper-models.ts";
import { waitUntil } from "../shared/sleep.ts";

const shared = missingShared("data/formats/excerpt.opus");
const TOKEN = "runtime-test-machine-token-0123456789abcdef";

/** A stand-in edge on 127.0.0.1: hands out the given tasks once, records every post. */
async function fakeEdge(tasks: Task[]): Promise<{ url: string; posts: Array<{ path: string; body: Record<string, unknown> }>; close: () => Promise<void> }> {
  const posts: Array<{ path: string; body: Record<string, unknown> }> = [];
  const pending = [...tasks];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      const body = JSON.parse(raw || "{}") as Record<string, unknown>;
      posts.push({ path: req.url ?? "", body });
      if (req.url === "/v1/machine/claim") {
        const task = pending.shift();
        if (!task) return res.writeHead(204).end();
        return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ tasks: [task] }));
      }
      const answer = req.url?.endsWith("/heartbeat") ? { continue: true, lease_until: Date.now() + 60_000 } : { ok: true };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts, close: () => new Promise((r) => server.close(() => r())) };
}

const logs: string[] = [];

describe("machine identity", () => {
  it("takes RunPod's pod id as its machine id, as it takes Fly's machine id", () => {
    expect(readConfig({ RUNPOD_POD_ID: "xedezhzb9la3ye" }).MACHINE_ID).toBe("xedezhzb9la3ye");
    expect(readConfig({ FLY_MACHINE_ID: "e2865641be3928" }).MACHINE_ID).toBe("e2865641be3928");
    expect(readConfig({ RUNPOD_POD_ID: "pod", MACHINE_ID: "explicit" }).MACHINE_ID).toBe("explicit");
  });
});

describe.skipIf(shared.missing)("machine runtime", () => {
  let engine: WhisperEngine;
  let media: MediaServer;
  beforeAll(async () => {
    engine = await WhisperEngine.load(await packagedModel("tiny"), { threads: 2 });
    media = await startMediaServer({ "/excerpt.opus": { file: sharedPath("data", "formats", "excerpt.opus") } });
  }, 60_000);
  afterAll(async () => {
    await media?.close();
    await engine?.model.release();
  });

  const machineFor = (edgeUrl: string, env: Record<string, string>, withEngine: ChunkEngine = engine) => {
    const config = readConfig({ ...process.env, EDGE_URL: edgeUrl, MACHINE_TOKEN: TOKEN, MACHINE_ID: "runtime-test", ALLOW_PRIVATE_MEDIA: "1", ...env });
    return new Machine({
      config: { ...config, WHISPER_BATCH: config.WHISPER_BATCH === "auto" ? 8 : config.WHISPER_BATCH, EDGE_URL: edgeUrl },
      credential: TOKEN,
      engine: withEngine,
      binaries: resolveBinaries(),
      log: (line) => logs.push(line),
    });
  };

  it("exits by itself after IDLE_EXIT_SEC without work, telling the edge first", async () => {
    const edge = await fakeEdge([]);
    const started = Date.now();
    expect(await machineFor(edge.url, { IDLE_EXIT_SEC: "1" }).run()).toBe("idle");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    // Claims, then one exit notice as the last word, so its provider ends it (a restarted pod would bill on).
    const last = edge.posts.at(-1)!;
    expect(edge.posts.slice(0, -1).every((p) => p.path === "/v1/machine/claim")).toBe(true);
    expect(last).toEqual({ path: "/v1/machine/exit", body: { version: 1, machine_id: "runtime-test", reason: "idle" } });
    await edge.close();
  });

  it("on shutdown gives its running range back as a retryable failure and claims nothing more", async () => {
    const task: Task = {
      kind: "range",
      job_id: "tr_x",
      task_id: "tr_x.r0",
      attempt: 1,
      lease_until: Date.now() + 60_000,
      lease_sec: 60,
      media_url: media.url("/excerpt.opus"),
      options: { language: "en", macro_chunk_sec: 300, micro_chunk_sec: 30, word_timestamps: false },
      task_token: "tt1.test",
      range_index: 0,
      start_sec: 0,
      end_sec: 70,
      media: null,
      language: "en",
    };
    const edge = await fakeEdge([task]);
    // One chunk per batch, so segments are posted while most of the range is still ahead.
    const machine = machineFor(edge.url, { IDLE_EXIT_SEC: "60", SHUTDOWN_GRACE_SEC: "10", WHISPER_BATCH: "1" });
    const running = machine.run();
    await waitUntil(() => edge.posts.some((p) => p.path.endsWith("/segments")), { timeoutMs: 10_000, intervalMs: 100 });
    const claimsBefore = edge.posts.filter((p) => p.path === "/v1/machine/claim").length;
    await machine.shutdown();
    expect(await running).toBe("shutdown");
    const fail = edge.posts.find((p) => p.path === "/v1/machine/tasks/tr_x.r0/fail");
    expect(fail?.body).toMatchObject({ version: 1, attempt: 1, retryable: true, code: "machine_shutdown" });
    expect(edge.posts.some((p) => p.path.endsWith("/complete"))).toBe(false);
    expect(edge.posts.filter((p) => p.path === "/v1/machine/claim").length).toBe(claimsBefore);
    await edge.close();
  }, 60_000);

  it("hands the job's prompt, task and temperature to the engine", async () => {
    const task: Task = {
      kind: "range",
      job_id: "tr_y",
      task_id: "tr_y.r0",
      attempt: 1,
      lease_until: Date.now() + 60_000,
      lease_sec: 60,
      media_url: media.url("/excerpt.opus"),
      options: {
        language: "en",
        macro_chunk_sec: 300,
        micro_chunk_sec: 30,
        word_timestamps: false,
        prompt: "welcome back",
        task: "translate",
        temperature: 0.4,
      },
      task_token: "tt1.test",
      range_index: 0,
      start_sec: 0,
      end_sec: 20,
      media: null,
      language: "en",
    };
    const edge = await fakeEdge([task]);
    const seen: Array<Partial<TranscribeOptions>> = [];
    const temperatures: number[] = [];
    const recording: ChunkEngine = {
      transcribe: async (chunks, options = {}) => {
        seen.push(options);
        const results = await engine.transcribe(chunks, options);
        temperatures.push(...results.map((r) => r.temperature));
        return results;
      },
    };
    expect(await machineFor(edge.url, { IDLE_EXIT_SEC: "1" }, recording).run()).toBe("idle");
    expect(edge.posts.some((p) => p.path === "/v1/machine/tasks/tr_y.r0/complete")).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    for (const options of seen) expect(options).toMatchObject({ language: "en", task: "translate", prompt: "welcome back", temperature: 0.4 });
    // The schedule starts at the asked temperature: no chunk is decoded cooler.
    expect(temperatures.length).toBeGreaterThan(0);
    for (const t of temperatures) expect(t).toBeGreaterThanOrEqual(0.4);
    await edge.close();
  }, 60_000);
});
