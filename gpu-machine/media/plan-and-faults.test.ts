import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole, generated, hourLong, MEDIA_CACHE, randomBytesFile } from "../../test/support/media-files.ts";
import { startMediaServer, type MediaServer } from "../../test/support/media-server.ts";
import { missingShared, readJsonl, sharedPath } from "../../test/support/shared-data.ts";
import { MediaError } from "./errors.ts";
import { MediaSource, streamRange } from "./media-source.ts";
import { microChunks } from "./micro-chunks.ts";
import { concatSamples, SAMPLE_RATE } from "./pcm.ts";
import { plan, settleEdge } from "./plan.ts";
import { rms } from "./quietest-point.ts";
import { loadSpeechDetector } from "./speech-detector.ts";

const shared = missingShared("data/formats/excerpt.flac", "data/longform/en-20min.opus", "data/speech/stereo/manifest.jsonl");
const fast = { retry: { baseMs: 5, capMs: 20 } };

async function collect(it: AsyncIterable<{ samples: Float32Array }>): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const b of it) parts.push(b.samples);
  return concatSamples(parts);
}

describe.skipIf(shared.missing)("planning and bad input", () => {
  let server: MediaServer;
  const formats = sharedPath("data", "formats");

  beforeAll(async () => {
    const flac = join(formats, "excerpt.flac");
    const truncated = join(MEDIA_CACHE, "truncated.flac");
    const bytes = readFileSync(await hourLong("flac"));
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const empty = join(MEDIA_CACHE, "empty.mp3");
    writeFileSync(empty, "");
    const text = join(MEDIA_CACHE, "notes.txt");
    writeFileSync(text, "these are meeting notes, not audio\n".repeat(200));
    server = await startMediaServer({
      "/excerpt.flac": { file: flac },
      "/longform.opus": { file: sharedPath("data", "longform", "en-20min.opus") },
      "/hour.mp3": { file: await hourLong("mp3") },
      "/truncated.flac": { file: truncated },
      "/empty.mp3": { file: empty },
      "/notes.txt": { file: text },
      "/no-range.flac": { file: flac, fault: { kind: "ignore_range" } },
      "/flaky.flac": { file: flac, fault: { kind: "status", status: 503, fromRequest: 3, times: 2 } },
      "/dropping.flac": { file: flac, fault: { kind: "drop", fromRequest: 3, afterBytes: 1000, times: 2 } },
      "/gone.flac": { file: flac, fault: { kind: "status", status: 404, fromRequest: 3, times: 99 } },
      "/random.mp3": { file: randomBytesFile(join(MEDIA_CACHE, "random-2gb.mp3")) },
      "/replaced.flac": { file: flac, fault: { kind: "replace", fromRequest: 3, file: join(formats, "excerpt.mp3") } },
      "/stereo.wav": { file: sharedPath("data", "speech", "stereo", "stereo_diarization.wav") },
      "/surround.flac": {
        file: await generated("surround.flac", (o) => [
          "-i",
          join(formats, "excerpt.flac"),
          "-af",
          "pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0",
          "-c:a",
          "flac",
          o,
        ]),
      },
      "/silence-then-speech.flac": {
        file: await generated("silence-then-speech.flac", (o) => [
          "-f",
          "lavfi",
          "-i",
          "anullsrc=r=16000:cl=mono",
          "-i",
          join(formats, "excerpt.flac"),
          "-filter_complex",
          "[0]atrim=0:600[s];[s][1]concat=n=2:v=0:a=1",
          "-c:a",
          "flac",
          o,
        ]),
      },
      "/no-duration.webm": {
        file: await generated("no-duration.webm", (o) => ["-i", join(formats, "excerpt.webm"), "-map", "0:a", "-c", "copy", "-live", "1", o]),
      },
    });
  }, 120_000);
  afterAll(() => server?.close());

  it("plans a 20-minute recording with every boundary in a pause between utterances", async () => {
    const segments = readJsonl<{ start: number; end: number }>(sharedPath("data", "longform", "en-20min.jsonl"));
    server.reset();
    const p = await plan(server.url("/longform.opus"), { macroChunkSec: 120 });
    expect(p.durationSec).toBeGreaterThan(1200);
    expect(p.durationSource).toBe("container");
    expect(p).toMatchObject({ codec: "opus", container: "ogg", channels: 1 });
    expect(p.ranges.length).toBe(Math.ceil(p.durationSec / 120));
    expect(p.ranges[0]!.startSec).toBe(0);
    expect(p.ranges.at(-1)!.endSec).toBe(p.durationSec);
    const audio = await decodeWhole(sharedPath("data", "longform", "en-20min.opus"));
    for (let i = 1; i < p.ranges.length; i++) {
      const b = p.ranges[i]!.startSec;
      const nominal = (i * p.durationSec) / p.ranges.length;
      expect(b).toBe(p.ranges[i - 1]!.endSec);
      expect(Math.abs(b - nominal)).toBeLessThanOrEqual(5);
      const gapNearby = segments.some((s, k) => k + 1 < segments.length && segments[k + 1]!.start > nominal - 5 && s.end < nominal + 5);
      if (gapNearby) {
        // A pause between utterances was within reach: the boundary is in one.
        const cut = segments.find((s) => s.start < b - 0.02 && s.end > b + 0.02);
        expect(cut, `boundary ${b} cuts ${JSON.stringify(cut)}`).toBeUndefined();
      } else {
        // Inside one long utterance (a 60 s monologue): a pause between words, far
        // quieter than the speech around it.
        const at = Math.round(b * SAMPLE_RATE);
        expect(rms(audio, at - 800, at + 800)).toBeLessThan(0.2 * rms(audio, at - 5 * SAMPLE_RATE, at + 5 * SAMPLE_RATE));
      }
    }
    // Only the windows around boundaries were decoded, not the file.
    expect(p.bytesRead).toBe(server.bytesSent("/longform.opus"));
    expect(p.bytesRead).toBeLessThan(readFileSync(sharedPath("data", "longform", "en-20min.opus")).length * 0.4);
    // The same file always gives the same plan.
    expect((await plan(server.url("/longform.opus"), { macroChunkSec: 120 })).ranges).toEqual(p.ranges);

    // Planned from its duration alone (boundaries left where they fell), each edge settled
    // on its own lands where the whole plan put it: either neighbour finds the same point.
    const quick = await plan(server.url("/longform.opus"), { macroChunkSec: 120, settleAtMost: 0 });
    expect(quick.unsettledSearchSec).toBe(5);
    expect(p.unsettledSearchSec).toBeNull();
    const source = await MediaSource.open(server.url("/longform.opus"));
    try {
      for (let i = 1; i < quick.ranges.length; i++) {
        const fell = quick.ranges[i]!.startSec;
        expect(Math.abs(fell - (i * quick.durationSec) / quick.ranges.length)).toBeLessThan(0.001);
        expect(await settleEdge(source, fell, quick.durationSec, 5)).toBe(p.ranges[i]!.startSec);
      }
    } finally {
      await source.close();
    }
  }, 60_000);

  it("probes an hour-long MP3 without reading it", async () => {
    server.reset();
    const source = await MediaSource.open(server.url("/hour.mp3"));
    const { durationSec, source: from } = await source.duration();
    await source.close();
    expect(durationSec).toBeGreaterThan(3590);
    expect(from).toBe("container");
    expect(server.bytesSent("/hour.mp3")).toBeLessThan(300_000);
  });

  it("finds the duration of a WebM that states none, and says how", async () => {
    const p = await plan(server.url("/no-duration.webm"), { macroChunkSec: 30 });
    expect(p.durationSource).toBe("demuxed");
    expect(p.notes.join(" ")).toMatch(/no duration/);
    expect(p.durationSec).toBeGreaterThan(70.5);
    expect(p.durationSec).toBeLessThan(70.8);
    expect(p.ranges.length).toBe(3);
  });

  it("retries 503s and dropped connections mid-stream, and says so", async () => {
    for (const path of ["/flaky.flac", "/dropping.flac"]) {
      const stream = streamRange(server.url(path), 10, 60, { origin: fast });
      expect((await collect(stream)).length).toBe(50 * SAMPLE_RATE);
      expect(stream.summary.origin.retries).toBeGreaterThan(0);
    }
  });

  it("gives up after three tries with an error naming the URL and the range", async () => {
    const error = await collect(streamRange(server.url("/gone.flac?sig=secret"), 10, 60, { origin: fast })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    const e = error as MediaError;
    expect(e.code).toBe("origin_failed");
    expect(e.retryable).toBe(true);
    expect(e.message).toContain(`${server.url("/gone.flac")}?…`);
    expect(e.message).toContain("range 10.000–60.000 s");
    expect(e.message).toContain("3 tries");
    expect(e.message).not.toContain("secret");
  });

  it("fails with media_changed when the file changes while it is read, or since the plan", async () => {
    const during = await collect(streamRange(server.url("/replaced.flac"), 10, 60, { origin: fast })).catch((e: unknown) => e);
    expect(during).toBeInstanceOf(MediaError);
    expect((during as MediaError).code).toBe("media_changed");
    expect((during as MediaError).retryable).toBe(false);
    expect((during as MediaError).message).toMatch(/changed while it was being read \(its size went from \d+ to \d+ bytes\)/);

    const planned = await plan(server.url("/excerpt.flac"), { origin: fast });
    const since = await MediaSource.open(server.url("/excerpt.flac"), { origin: { ...fast, expect: { ...planned.version, etag: '"another"' } } }).catch(
      (e: unknown) => e,
    );
    expect((since as MediaError).code).toBe("media_changed");
    const same = await MediaSource.open(server.url("/excerpt.flac"), { origin: { ...fast, expect: planned.version } });
    await same.close();
  });

  it("gives up on 2 GB of random bytes named .mp3 after a bounded read, as not_media", async () => {
    server.reset();
    const error = await plan(server.url("/random.mp3"), { origin: fast }).catch((e: unknown) => e);
    expect((error as MediaError).code).toBe("not_media");
    expect((error as MediaError).message).toContain("no audio found in the first 64 MB");
    expect(server.bytesSent("/random.mp3")).toBeLessThan(80 * 2 ** 20);
  }, 60_000);

  it.each([
    ["/no-range.flac", "range_not_supported"],
    ["/empty.mp3", "empty_media"],
    ["/notes.txt", "not_media"],
    ["/missing.mp3", "media_unreachable"],
  ])("refuses %s with %s", async (path, code) => {
    const error = await plan(server.url(path), { origin: fast }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    expect((error as MediaError).code).toBe(code);
  });

  it("transcribes what a truncated file holds and reports the shortfall", async () => {
    const p = await plan(server.url("/truncated.flac"), { macroChunkSec: 600 }).catch((e: unknown) => e);
    // The header still claims an hour; the range past the cut comes back short, not as an error.
    expect(p).not.toBeInstanceOf(Error);
    const stream = streamRange(server.url("/truncated.flac"), 1500, 2100);
    const samples = await collect(stream);
    expect(samples.length).toBeGreaterThan(200 * SAMPLE_RATE);
    expect(samples.length).toBeLessThan(600 * SAMPLE_RATE);
    expect(stream.summary.shortfallSec).toBeCloseTo(600 - samples.length / SAMPLE_RATE, 6);
  }, 60_000);

  it("averages stereo channels and folds 5.1 to mono", async () => {
    const stereo = await collect(streamRange(server.url("/stereo.wav"), 0, 5));
    const file = sharedPath("data", "speech", "stereo", "stereo_diarization.wav");
    const left = await decodeWhole(file, undefined, ["-af", "pan=mono|c0=c0"]);
    const right = await decodeWhole(file, undefined, ["-af", "pan=mono|c0=c1"]);
    let worst = 0;
    for (let i = 0; i < stereo.length; i++) worst = Math.max(worst, Math.abs(stereo[i]! - (left[i]! + right[i]!) / 2));
    expect(worst).toBeLessThan(1e-4);
    const surround = await collect(streamRange(server.url("/surround.flac"), 20, 30));
    expect(surround.length).toBe(10 * SAMPLE_RATE);
    expect(rms(surround)).toBeGreaterThan(0.01);
  });

  it("marks a long silent stretch as having no speech, with and without VAD", async () => {
    for (const vad of [true, false]) {
      const detector = await loadSpeechDetector({ VAD: vad });
      const source = await MediaSource.open(server.url("/silence-then-speech.flac"));
      const chunks = [];
      for await (const c of microChunks(await source.stream(0, 670), { rangeIndex: 0, detector })) chunks.push(c);
      await source.close();
      const silent = chunks.filter((c) => c.endSec <= 599);
      expect(silent.length).toBeGreaterThanOrEqual(19);
      expect(silent.every((c) => !c.speech)).toBe(true);
      expect(chunks.filter((c) => c.startSec >= 601).every((c) => c.speech)).toBe(true);
    }
  }, 60_000);
});
