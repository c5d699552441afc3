import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreatedTranscription, TranscriptionJob, TranscriptJson } from "../shared/api.ts";
import { startLocalEdge, type LocalEdge } from "./support/local-edge.ts";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, REPO_ROOT } from "./support/shared-data.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "./support/test-secrets.ts";
import { labelAccuracy, type Turn, TWO_VOICES_SET, twoVoices } from "./support/two-voices.ts";
import { packagedModel } from "./support/whisper-models.ts";

const need = missingShared(`${TWO_VOICES_SET}/manifest.jsonl`);
const KEY = TEST_API_KEYS[0];
describe.skipIf(need.missing)("diarize on the local stack: one set of labels across ranges", () => {
  let edge: LocalEdge;
  let media: MediaServer;
  let machine: ChildProcess;
  let machineLog = "";
  let turns: Turn[];

  beforeAll(async () => {
    const model = await packagedModel("tiny");
    const built = await twoVoices(7);
    turns = built.turns;
    edge = await startLocalEdge({ API_KEYS: TEST_API_KEYS.join(","), WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY, MACHINE_TOKEN: TEST_MACHINE_TOKEN });
    media = await startMediaServer({ "/two-voices.wav": { file: built.file } });
    machine = spawn(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", "serve", "--model", model, "--threads", "2"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        EDGE_URL: edge.url,
        MACHINE_TOKEN: TEST_MACHINE_TOKEN,
        MACHINE_ID: "machine-diarize",
        IDLE_EXIT_SEC: "600",
        ALLOW_PRIVATE_MEDIA: "1",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    machine.stderr?.on("data", (d: Buffer) => (machineLog = (machineLog + d.toString()).slice(-20_000)));
  }, 180_000);

  afterAll(async () => {
    machine?.kill("SIGKILL");
    await media?.close();
    await edge?.stop();
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${edge.url}${path}`, { ...init, headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", ...init.headers } });

  it("labels both voices consistently in every range, and the formats carry the labels", async () => {
    const response = await api("/v1/transcriptions", {
      method: "POST",
      body: JSON.stringify({ audio_url: media.url("/two-voices.wav"), language: "en", macro_chunk_sec: 60, diarize: true }),
    });
    const created = (await response.json()) as CreatedTranscription;
    expect(response.status, JSON.stringify(created)).toBe(202);
    let job: TranscriptionJob;
    for (;;) {
      job = (await (await api(`/v1/transcriptions/${created.id}`)).json()) as TranscriptionJob;
      if (job.status === "completed" || job.status === "failed" || job.status === "canceled") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(job.status, `${JSON.stringify(job.error)}\n${machineLog}`).toBe("completed");
    expect(job.progress.ranges_total).toBeGreaterThanOrEqual(2);

    const t = (await (await api(`/v1/transcriptions/${created.id}/transcript?format=verbose_json`)).json()) as TranscriptJson;
    const labelled = t.segments.filter((s) => s.speaker !== undefined);
    // Every segment of speech has a speaker.
    expect(labelled.length).toBe(t.segments.length);
    // Each label stands for the reference voice it is most often heard as; time labelled otherwise is an error.
    const { mapping, right, report } = labelAccuracy(turns, labelled);
    expect(new Set(mapping.values()).size, report).toBe(2);
    expect(right, report).toBeGreaterThan(0.85);
    expect(t.speakers?.map((s) => s.label)).toEqual([...mapping.keys()].sort());
    // Both voices are labelled the same in the first and the last minute: matched across ranges.
    const end = turns.at(-1)!.end;
    for (const label of mapping.keys()) {
      expect(
        labelled.some((s) => s.speaker === label && s.end_sec < 60),
        `${label} in the first range; ${report}`,
      ).toBe(true);
      expect(
        labelled.some((s) => s.speaker === label && s.start_sec > end - 50),
        `${label} in the last range; ${report}`,
      ).toBe(true);
    }
    const text = await (await api(`/v1/transcriptions/${created.id}/transcript?format=text`)).text();
    expect(
      text
        .split("\n")
        .filter((l) => l.length > 0)
        .every((l) => /^S\d+: /.test(l)),
    ).toBe(true);
    const vtt = await (await api(`/v1/transcriptions/${created.id}/transcript?format=vtt`)).text();
    expect(vtt).toMatch(/\n<v S1>/);
  }, 300_000);
});
