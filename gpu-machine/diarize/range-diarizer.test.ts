import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, sharedPath } from "../../test/support/shared-data.ts";
import { diarizationErrorRate } from "../eval/der.ts";
import { LogmelStatsEmbedder } from "./logmel-stats-embedder.ts";
import { RangeDiarizer, type SpeakerTurn } from "./range-diarizer.ts";
import type { SpeakerEmbedder } from "./speaker-embedder.ts";

const SR = 16_000;
const MODEL_DIR = "models/diarization/pyannote-segmentation-3.0-int8";
// Two LibriSpeech readers, a man (2609) and a woman (3080), clips joined into turns.
const MAN = ["0000", "0001", "0002", "0003"].map((c) => `data/speech/librispeech-test-other/2609-156975-${c}.flac`);
const WOMAN = ["0000", "0001", "0002", "0003"].map((c) => `data/speech/librispeech-test-other/3080-5032-${c}.flac`);
const need = missingShared(MODEL_DIR, ...MAN, ...WOMAN);
/** Where the range starts on the recording's timeline: times in and out are absolute. */
const RANGE_START = 600;

/** Man, woman, man, woman, … each turn one clip, 0.6 s of silence between. */
async function conversation(): Promise<{ audio: Float32Array; reference: { start: number; end: number; speaker: string }[] }> {
  const [man, woman] = await Promise.all([Promise.all(MAN.map((f) => decodeWhole(sharedPath(f)))), Promise.all(WOMAN.map((f) => decodeWhole(sharedPath(f))))]);
  const turns = man.flatMap((m, i) => [
    { speaker: "man", audio: m },
    { speaker: "woman", audio: woman[i]! },
  ]);
  const gap = Math.round(0.6 * SR);
  const audio = new Float32Array(turns.reduce((n, t) => n + t.audio.length + gap, 0));
  const reference: { start: number; end: number; speaker: string }[] = [];
  let at = 0;
  for (const t of turns) {
    audio.set(t.audio, at);
    reference.push({ start: RANGE_START + at / SR, end: RANGE_START + (at + t.audio.length) / SR, speaker: t.speaker });
    at += t.audio.length + gap;
  }
  return { audio, reference };
}

/** Pushes the audio as micro chunks of `chunkSec`, asking for labels through the end of every `every`-th chunk. */
async function feed(diarizer: RangeDiarizer, audio: Float32Array, chunkSec: number, every: number, seen: SpeakerTurn[][]): Promise<void> {
  const size = chunkSec * SR;
  for (let k = 0, at = 0; at < audio.length; k++, at += size) {
    const end = Math.min(audio.length, at + size);
    diarizer.push(RANGE_START + at / SR, audio.slice(at, end));
    if ((k + 1) % every === 0) {
      await diarizer.through(RANGE_START + end / SR);
      seen.push(diarizer.turns());
    }
  }
}

describe.skipIf(need.missing)("RangeDiarizer on two speakers taking turns", () => {
  let audio: Float32Array;
  let reference: { start: number; end: number; speaker: string }[];
  let diarizer: RangeDiarizer | null = null;

  beforeAll(async () => {
    ({ audio, reference } = await conversation());
  });

  afterEach(async () => {
    await diarizer?.close();
    diarizer = null;
  });

  it("finds the two speakers and their turns", async () => {
    diarizer = await RangeDiarizer.create({ embedder: new LogmelStatsEmbedder(), segmentationModelDir: sharedPath(MODEL_DIR) });
    const seen: SpeakerTurn[][] = [];
    await feed(diarizer, audio, 12, 2, seen);
    await diarizer.finish();
    const turns = diarizer.turns();
    const speakers = diarizer.speakers();

    expect(speakers.map((s) => s.local).sort()).toEqual([...new Set(turns.map((t) => t.speaker))].sort());
    expect(speakers).toHaveLength(2);
    for (const s of speakers) {
      expect(Math.hypot(...s.vector)).toBeCloseTo(1, 5);
      expect(s.first_sec).toBeGreaterThanOrEqual(RANGE_START);
    }
    // Turns are absolute, ordered and do not overlap.
    for (let i = 1; i < turns.length; i++) expect(turns[i]!.start_sec).toBeGreaterThanOrEqual(turns[i - 1]!.end_sec - 1e-9);
    expect(turns[0]!.start_sec).toBeGreaterThanOrEqual(RANGE_START);

    const score = diarizationErrorRate(
      reference,
      turns.map((t) => ({ start: t.start_sec, end: t.end_sec, speaker: t.speaker })),
    );
    // The clips' own pauses count as missed speech against a reference that runs
    // from clip start to clip end; who is who must be nearly all right.
    expect(score.confusion / score.total).toBeLessThan(0.03);
    expect(score.der).toBeLessThan(0.2);
    expect(new Set(Object.values(score.mapping))).toEqual(new Set(["man", "woman"]));
    // The man speaks first: his id is the first one, and his talk time is about his clips'.
    const man = speakers.find((s) => score.mapping[s.local] === "man")!;
    expect(man.first_sec).toBeLessThan(RANGE_START + 1);
    const manSec = reference.filter((r) => r.speaker === "man").reduce((n, r) => n + r.end - r.start, 0);
    expect(man.talk_sec).toBeGreaterThan(0.75 * manSec);
    expect(man.talk_sec).toBeLessThan(1.05 * manSec);

    // While the range ran, what was labelled early stayed labelled so (the segments
    // posted with those ids are corrected once, from the final turns, when it ends).
    expect(seen.length).toBeGreaterThan(1);
    for (let k = 1; k < seen.length; k++) {
      for (const t of seen[k - 1]!.slice(0, -1)) expect(seen[k]).toContainEqual(t);
    }
  });

  it("answers through() from the audio pushed so far, without waiting for more", async () => {
    diarizer = await RangeDiarizer.create({ embedder: new LogmelStatsEmbedder(), segmentationModelDir: sharedPath(MODEL_DIR) });
    // The man's first turn alone: less than one 10 s window.
    const pushed = reference[0]!.end - RANGE_START;
    expect(pushed).toBeLessThan(10);
    diarizer.push(RANGE_START, audio.slice(0, Math.round(pushed * SR)));
    await diarizer.through(RANGE_START + 60);
    const turns = diarizer.turns();
    expect(turns.length).toBeGreaterThan(0);
    expect(turns[turns.length - 1]!.end_sec).toBeLessThanOrEqual(RANGE_START + pushed + 1e-6);
    expect(new Set(turns.map((t) => t.speaker))).toEqual(new Set(["0"]));
  });

  it("rejects through() and finish() when the voice model fails", async () => {
    const failing: SpeakerEmbedder = { name: "failing", dims: 4, embed: () => Promise.reject(new Error("model gone")) };
    diarizer = await RangeDiarizer.create({ embedder: failing, segmentationModelDir: sharedPath(MODEL_DIR) });
    diarizer.push(RANGE_START, audio.slice(0, 25 * SR));
    await expect(diarizer.through(RANGE_START + 25)).rejects.toThrow("model gone");
    await expect(diarizer.finish()).rejects.toThrow("model gone");
  });

  it("has no speakers before finish and none for a range with no audio", async () => {
    diarizer = await RangeDiarizer.create({ embedder: new LogmelStatsEmbedder(), segmentationModelDir: sharedPath(MODEL_DIR) });
    expect(() => diarizer!.speakers()).toThrow();
    await diarizer.finish();
    expect(diarizer.speakers()).toEqual([]);
    expect(diarizer.turns()).toEqual([]);
  });
});
