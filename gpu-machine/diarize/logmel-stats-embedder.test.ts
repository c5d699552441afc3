import { beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, sharedPath } from "../../test/support/shared-data.ts";
import { CEPSTRA, LogmelStatsEmbedder } from "./logmel-stats-embedder.ts";
import { pitchStats } from "./pitch.ts";
import { cosineSimilarity } from "./speaker-embedder.ts";

const SR = 16_000;

/** A buzz with harmonics at `hz` (a crude voiced sound). */
function buzz(hz: number, seconds: number): Float32Array {
  return Float32Array.from({ length: seconds * SR }, (_, i) => {
    let x = 0;
    for (let h = 1; h <= 10; h++) x += Math.sin((2 * Math.PI * hz * h * i) / SR) / h;
    return 0.2 * x;
  });
}

describe("pitchStats", () => {
  it("finds the fundamental of a voiced sound and nothing in silence", () => {
    for (const hz of [90, 150, 230]) expect(Math.exp(pitchStats(buzz(hz, 1)).meanLogF0) / hz).toBeCloseTo(1, 2);
    const silence = pitchStats(new Float32Array(SR));
    expect(silence.voicedFrames).toBe(0);
    expect(silence.meanLogF0).toBeNaN();
  });
});

describe("LogmelStatsEmbedder", () => {
  it("gives a unit vector of its dims and refuses under half a second", async () => {
    const e = new LogmelStatsEmbedder();
    const v = await e.embed(buzz(120, 1));
    expect(e.dims).toBe(CEPSTRA + 1);
    expect(v).toHaveLength(e.dims);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    await expect(e.embed(new Float32Array(7999))).rejects.toThrow(RangeError);
  });

  it("tells a higher voice from a lower one by pitch alone", async () => {
    // Same spectrum shape, different fundamental: only the pitch coordinate differs.
    const e = new LogmelStatsEmbedder();
    const [low, low2, high] = await Promise.all([e.embed(buzz(100, 2)), e.embed(buzz(105, 2)), e.embed(buzz(220, 2))]);
    expect(cosineSimilarity(low, low2)).toBeGreaterThan(cosineSimilarity(low, high));
  });
});

// Voices that neither fit-background.ts nor the tune-* conversations use: held out.
const VOICES: Record<string, string[]> = {
  "librispeech 2609": ["0000", "0002", "0004", "0006"].map((c) => `data/speech/librispeech-test-other/2609-156975-${c}.flac`),
  "librispeech 3080": ["0000", "0002", "0004", "0006"].map((c) => `data/speech/librispeech-test-other/3080-5032-${c}.flac`),
  "librispeech 367": ["0000", "0002", "0004", "0006"].map((c) => `data/speech/librispeech-test-other/367-130732-${c}.flac`),
  "earnings-22": ["data/speech/earnings22/earnings22_1_4482311_3_62.flac"],
};
const need = missingShared(...Object.values(VOICES).flat());

describe.skipIf(need.missing)("LogmelStatsEmbedder on real voices", () => {
  /** Four 4 s pieces per voice, each from a different stretch of its recordings. */
  const pieces: { voice: string; vector: Float32Array }[] = [];

  beforeAll(async () => {
    const e = new LogmelStatsEmbedder();
    for (const [voice, files] of Object.entries(VOICES)) {
      const clips = await Promise.all(files.map((f) => decodeWhole(sharedPath(f))));
      const audio =
        clips.length === 1 ? [0, 1, 2, 3].map((k) => clips[0]!.subarray(k * 12 * SR, k * 12 * SR + 4 * SR)) : clips.map((c) => c.subarray(0, 4 * SR));
      for (const a of audio) pieces.push({ voice, vector: await e.embed(a) });
    }
  });

  it("finds one voice more like itself than like the others", () => {
    const same: number[] = [];
    const other: number[] = [];
    let nearestRight = 0;
    pieces.forEach((p, i) => {
      let best = -2;
      let bestVoice = "";
      pieces.forEach((q, j) => {
        if (i === j) return;
        const c = cosineSimilarity(p.vector, q.vector);
        (p.voice === q.voice ? same : other).push(c);
        if (c > best) [best, bestVoice] = [c, q.voice];
      });
      if (bestVoice === p.voice) nearestRight++;
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(same)).toBeGreaterThan(mean(other) + 0.3);
    // Each piece's nearest other piece is of its own voice, but for at most one in sixteen.
    expect(nearestRight).toBeGreaterThanOrEqual(pieces.length - 1);
  });
});
