import { statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bestLag } from "../../test/support/alignment.ts";
import { continuous, CONTINUOUS_FORMATS, decodeWhole, hourLong, LONG_FORMATS, type LongFormat } from "../../test/support/media-files.ts";
import { startMediaServer, type MediaServer } from "../../test/support/media-server.ts";
import { missingShared } from "../../test/support/shared-data.ts";
import { availableBinaries } from "./ffmpeg-binaries.ts";
import { MediaSource, streamRange } from "./media-source.ts";
import { SAMPLE_RATE } from "./pcm.ts";

const shared = missingShared("data/formats/excerpt.flac");
const binaries = availableBinaries();

describe.skipIf(shared.missing).each(binaries.map((b) => [b.source, b] as const))("streaming one range with the %s ffmpeg", (_name, bins) => {
  let server: MediaServer;
  const sizes = new Map<string, number>();
  const durations = new Map<string, number>();

  beforeAll(async () => {
    const files: Record<string, { file: string }> = {};
    for (const f of LONG_FORMATS) files[`/hour.${f}`] = { file: await hourLong(f) };
    for (const f of CONTINUOUS_FORMATS) files[`/cont.${f}`] = { file: await continuous(f) };
    server = await startMediaServer(files);
    for (const [path, { file }] of Object.entries(files)) sizes.set(path, statSync(file).size);
    for (const f of LONG_FORMATS) {
      const source = await MediaSource.open(server.url(`/hour.${f}`), { binaries: bins });
      durations.set(f, (await source.duration()).durationSec);
      await source.close();
    }
  }, 300_000);
  afterAll(() => server?.close());

  // Range k = 6 of twelve 300 s ranges: the middle of the hour.
  it.each(LONG_FORMATS)(
    "reads range 6 of a 60-minute %s with well under twice its share of bytes",
    async (format: LongFormat) => {
      const duration = durations.get(format)!;
      expect(duration).toBeGreaterThan(3590);
      const path = `/hour.${format}`;
      const share = (sizes.get(path)! * 300) / duration;
      const info = await probeContainer(path);
      const known = { container: info.container, durationSec: duration, channels: info.channels };
      server.reset();
      const stream = streamRange(server.url(path), 1800, 2100, { binaries: bins, known });
      let samples = 0;
      let bytesAtFirstBlock = -1;
      for await (const block of stream) {
        if (bytesAtFirstBlock < 0) bytesAtFirstBlock = server.bytesSent(path);
        samples += block.samples.length;
      }
      expect(samples).toBe(300 * SAMPLE_RATE);
      expect(stream.summary.shortfallSec).toBe(0);
      const ratio = server.bytesSent(path) / share;
      expect(ratio, `${format}: ${server.bytesSent(path)} bytes for a ${Math.round(share)}-byte share`).toBeLessThan(1.7);
      // The first samples come out long before the range has been read.
      expect(bytesAtFirstBlock).toBeLessThan(server.bytesSent(path) / 2);
      // Every byte the origin sent was one we asked for and counted.
      expect(stream.summary.origin.bytes).toBe(server.bytesSent(path));
    },
    60_000,
  );

  async function probeContainer(path: string) {
    const source = await MediaSource.open(server.url(path), { binaries: bins });
    try {
      return await source.probe();
    } finally {
      await source.close();
    }
  }

  // A seek lands where a decode from byte 0 says that time is, to within 20 ms;
  // constant-bitrate MP3 to within one frame (see mp3-seeking.ts), 36 ms in this 16 kHz file.
  it.each(CONTINUOUS_FORMATS)(
    "seeks in %s to within 20 ms of a full decode",
    async (format) => {
      const tolerance = format === "mp3-cbr" || format === "mp3-untagged" ? 576 / SAMPLE_RATE + 0.001 : 0.02;
      const start = 203.37;
      const reference = (await decodeWhole(await continuous(format), start + 10)).subarray(Math.round(start * SAMPLE_RATE));
      const source = await MediaSource.open(server.url(`/cont.${format}`), { binaries: bins });
      const got = await source.decode(start, start + 5);
      await source.close();
      expect(got.length).toBe(5 * SAMPLE_RATE);
      const { lag, correlation } = bestLag(reference, got, 1600, 32_000);
      expect(correlation, `${format}: best match ${correlation.toFixed(3)} at ${lag} samples`).toBeGreaterThan(0.9);
      expect(Math.abs(lag) / SAMPLE_RATE).toBeLessThan(tolerance);
    },
    60_000,
  );

  it("stalls ffmpeg and the origin, not memory, while the consumer is slow", async () => {
    const path = "/hour.wav";
    server.reset();
    const source = await MediaSource.open(server.url(path), { binaries: bins });
    const stream = await source.stream(600, 3000);
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 1500));
    const afterPause = server.bytesSent(path);
    await new Promise((r) => setTimeout(r, 1000));
    // Nothing more is fetched while nobody reads: the pipe filled and ffmpeg waits.
    expect(server.bytesSent(path)).toBe(afterPause);
    // 2400 s of 8 kHz mu-law is 19 MB; what was fetched is a pipe's worth plus one read.
    expect(afterPause).toBeLessThan(2_000_000);
    await it.return?.();
    await source.close();
  }, 30_000);
});

describe("no ffmpeg at all is a clear error", () => {
  it("lists what to do", async () => {
    const { resolveBinaries } = await import("./ffmpeg-binaries.ts");
    expect(() => resolveBinaries({ FFMPEG_PATH: "/nonexistent/ffmpeg", FFPROBE_PATH: "/nonexistent/ffprobe" })).toThrow(/not an executable/);
    expect(() => resolveBinaries({ FFMPEG_PATH: "/x" })).toThrow(/both FFMPEG_PATH and FFPROBE_PATH/);
  });
});
