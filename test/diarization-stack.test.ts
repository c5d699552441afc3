import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreatedTranscription, TranscriptionJob, TranscriptJson } from "../shared/api.ts";
import { startLocalEdge, type LocalEdge } from "./support/local-edge.ts";
import { decodeWhole, generated, MEDIA_CACHE } from "./support/media-files.ts";
import { startMediaServer, type MediaServer } from "./support/media-server.ts";
import { missingShared, REPO_ROOT, readJsonl, sharedPath } from "./support/shared-data.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "./support/test-secrets.ts";
import { packagedModel } from "./support/whisper-models.ts";

const SET = "data/speech/librispeech-test-other";
const need = missingShared(`${SET}/manifest.jsonl`);
const KEY = TEST_API_KEYS[0];
const RATE = 16_000;
const GAP_SEC = 0.6;

interface Turn {
  voice: string;
  start: number;
  end: number;
}

/**
 * Two LibriSpeech readers taking turns, a whole clip each, 0.6 s apart: about
 * two minutes, so that with 60 s ranges both voices are heard by every range's
 * machine and the job must match them across ranges.
 */
async function twoVoices(): Promise<{ file: string; turns: Turn[] }> {
  const clips = readJsonl<{ audio: string }>(sharedPath(SET, "manifest.jsonl")).map((c) => c.audio);
  const of = (speaker: string) => clips.filter((c) => c.startsWith(`${speaker}-`)).slice(0, 7);
  const [a, b] = [of("2033"), of("3080")];
  const pieces: Float32Array[] = [];
  const turns: Turn[] = [];
  let at = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    for (const [voice, clip] of [
      ["2033", a[i]!],
      ["3080", b[i]!],
    ] as const) {
      const samples = await decodeWhole(sharedPath(SET, clip));
      pieces.push(samples, new Float32Array(Math.round(GAP_SEC * RATE)));
      turns.push({ voice, start: at / RATE, end: (at + samples.length) / RATE });
      at += samples.length + Math.round(GAP_SEC * RATE);
    }
  }
  const all = new Float32Array(at);
  let offset = 0;
  for (const p of pieces) {
    all.set(p, offset);
    offset += p.length;
  }
  const raw = join(MEDIA_CACHE, "two-voices.f32");
  writeFileSync(raw, Buffer.from(all.buffer));
  const file = await generated("two-voices.wav", (o) => ["-f", "f32le", "-ar", String(RATE), "-ac", "1", "-i", raw, "-c:a", "pcm_s16le", o]);
  return { file, turns };
}

/** The reference voice that speaks most inside [start, end]. */
function voiceAt(turns: readonly Turn[], start: number, end: number): string | null {
  let best: { voice: string; overlap: number } | null = null;
  for (const t of turns) {
    const overlap = Math.min(end, t.end) - Math.max(start, t.start);
    if (overlap > 0 && (best === null || overlap > best.overlap)) best = { voice: t.voice, overlap };
  }
  return best?.voice ?? null;
}

describe.skipIf(need.missing)("diarize on the local stack: one set of labels across ranges", () => {
  let edge: LocalEdge;
  let media: MediaServer;
  let machine: ChildProcess;
  let machineLog = "";
  let turns: Turn[];

  beforeAll(async () => {
    const model = await packagedModel("tiny");
    const built = await twoVoices();
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
    const votes = new Map<string, Map<string, number>>();
    for (const s of labelled) {
      const voice = voiceAt(turns, s.start_sec, s.end_sec);
      if (voice === null) continue;
      const v = votes.get(s.speaker!) ?? new Map<string, number>();
      v.set(voice, (v.get(voice) ?? 0) + s.end_sec - s.start_sec);
      votes.set(s.speaker!, v);
    }
    const mapping = new Map([...votes].map(([label, v]) => [label, [...v].sort((x, y) => y[1] - x[1])[0]![0]]));
    let right = 0;
    let total = 0;
    for (const s of labelled) {
      const voice = voiceAt(turns, s.start_sec, s.end_sec);
      total += s.end_sec - s.start_sec;
      if (voice !== null && mapping.get(s.speaker!) === voice) right += s.end_sec - s.start_sec;
    }
    const report = `labels ${JSON.stringify([...votes].map(([l, v]) => [l, [...v]]))}`;
    expect(new Set(mapping.values()).size, report).toBe(2);
    expect(right / total, report).toBeGreaterThan(0.85);
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
