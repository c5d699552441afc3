import { MediaError, redactUrl } from "./errors.ts";
import { resolveBinaries, type FfmpegBinaries } from "./ffmpeg-binaries.ts";
import { OriginReader, type MediaVersion, type OriginOptions, type OriginStats } from "./origin-reader.ts";
import { DecodeStream, type DecodeSummary } from "./stream-range.ts";
import { concatSamples, toSample, type PcmBlock } from "./pcm.ts";
import { demuxedDurationSec, probeMedia, type MediaInfo } from "./probe.ts";
import { detectMp3Seeking, mp3SeekArgs, type Mp3Seeking } from "./mp3-seeking.ts";
import { RangeProxy, type ProxyOptions } from "./range-proxy.ts";

/**
 * One recording opened for reading: the origin (checked for Range support once),
 * the loopback proxy ffmpeg reads it through, and what ffprobe said about it.
 * Everything that touches a user's media URL goes through an instance of this.
 */
export interface MediaSourceOptions {
  binaries?: FfmpegBinaries;
  origin?: OriginOptions;
  proxy?: ProxyOptions;
  /**
   * What the plan already learned, so streaming a range needs no probe: the
   * container decides MP3 seeking, the duration sizes the proxy's reads.
   */
  known?: { container: string; durationSec: number; channels: number };
}

/** What a probe may read before the file is judged not to be media. */
const PROBE_BUDGET_BYTES = 64 * 2 ** 20;

/** Reads of about this much audio at a time bound the overshoot past a range's end. */
const READ_AHEAD_SEC = 30;

export type DurationSource = "container" | "demuxed";

export class MediaSource {
  private info: Promise<MediaInfo> | null = null;
  private mp3: Promise<Mp3Seeking> | null = null;

  private constructor(
    readonly url: string,
    readonly binaries: FfmpegBinaries,
    private readonly reader: OriginReader,
    private readonly proxy: RangeProxy,
    private readonly known: MediaSourceOptions["known"],
  ) {}

  static async open(url: string, options: MediaSourceOptions = {}): Promise<MediaSource> {
    const binaries = options.binaries ?? resolveBinaries();
    const reader = await OriginReader.open(url, options.origin);
    const proxy = await RangeProxy.start(options.proxy);
    return new MediaSource(url, binaries, reader, proxy, options.known);
  }

  get originStats(): OriginStats {
    return { ...this.reader.stats };
  }

  get sizeBytes(): number {
    return this.reader.size;
  }

  get version(): MediaVersion {
    return this.reader.version;
  }

  probe(): Promise<MediaInfo> {
    // Real recordings tell ffprobe what they are within a few megabytes (an MP4's
    // index at the end is a seek, not a scan). Random bytes named .mp3 make it scan
    // for frame sync through the whole file: 2 GB read to say "not audio".
    const budget = {
      bytes: PROBE_BUDGET_BYTES,
      error: () =>
        new MediaError(
          "not_media",
          `${redactUrl(this.url)}: no audio found in the first ${PROBE_BUDGET_BYTES / 2 ** 20} MB read; it is not a recording ffmpeg can read.`,
        ),
    };
    this.info ??= this.withProxy("probe", (url, signal) => probeMedia(this.binaries.ffprobe, url, redactUrl(this.url), signal), budget);
    return this.info;
  }

  /** The duration, and whether the container said so or the whole file had to be demuxed. */
  async duration(): Promise<{ durationSec: number; source: DurationSource }> {
    const info = await this.probe();
    if (info.durationSec !== null) return { durationSec: info.durationSec, source: "container" };
    const durationSec = await this.withProxy("duration", (url, signal) => demuxedDurationSec(this.binaries.ffmpeg, url, redactUrl(this.url), signal));
    return { durationSec, source: "demuxed" };
  }

  /** PCM for [startSec, endSec), on the 16 kHz sample grid. */
  async stream(startSec: number, endSec: number): Promise<DecodeStream> {
    const known = this.known ?? (await this.probe());
    const what = `range ${startSec.toFixed(3)}–${endSec.toFixed(3)} s`;
    const bytesPerSec = known.durationSec ? this.reader.size / known.durationSec : Number.POSITIVE_INFINITY;
    const handle = this.proxy.register(this.reader, what, Math.round(bytesPerSec * READ_AHEAD_SEC));
    return new DecodeStream({
      ffmpeg: this.binaries.ffmpeg,
      url: handle.url,
      seekArgs: await this.seekArgs(known.container),
      channels: known.channels,
      startSample: toSample(startSec),
      endSample: toSample(endSec),
      label: `${redactUrl(this.url)} ${what}`,
      originError: handle.error,
      originFailed: handle.failed,
      onDone: handle.release,
    });
  }

  /** A short window decoded whole (planning looks at ~10 s around each boundary). */
  async decode(startSec: number, endSec: number): Promise<Float32Array> {
    const parts: Float32Array[] = [];
    for await (const block of await this.stream(startSec, endSec)) parts.push(block.samples);
    return concatSamples(parts);
  }

  close(): Promise<void> {
    return this.proxy.close();
  }

  /** How ranges of an MP3 are reached (other containers seek exactly with plain `-ss`). */
  mp3Seeking(): Promise<Mp3Seeking> {
    this.mp3 ??= detectMp3Seeking(this.reader);
    return this.mp3;
  }

  private async seekArgs(container: string): Promise<string[]> {
    return container === "mp3" ? mp3SeekArgs(await this.mp3Seeking()) : [];
  }

  private async withProxy<T>(
    what: string,
    fn: (url: string, failed: AbortSignal) => Promise<T>,
    budget: Parameters<RangeProxy["register"]>[3] = null,
  ): Promise<T> {
    const handle = this.proxy.register(this.reader, what, undefined, budget);
    try {
      return await fn(handle.url, handle.failed);
    } catch (error) {
      throw handle.error() ?? error;
    } finally {
      await handle.release();
    }
  }
}

export interface RangeSummary extends DecodeSummary {
  origin: OriginStats;
}

/**
 * `streamRange(url, startSec, endSec)`: PCM for one time range of a recording,
 * opened and closed around the iteration. `summary` is there once it has ended.
 */
export function streamRange(
  url: string,
  startSec: number,
  endSec: number,
  options: MediaSourceOptions = {},
): AsyncIterable<PcmBlock> & { readonly summary: RangeSummary } {
  let summary: RangeSummary | null = null;
  async function* run(): AsyncGenerator<PcmBlock> {
    const source = await MediaSource.open(url, options);
    try {
      const stream = await source.stream(startSec, endSec);
      yield* stream;
      summary = { ...stream.summary, origin: source.originStats };
    } finally {
      await source.close();
    }
  }
  return {
    [Symbol.asyncIterator]: () => run(),
    get summary(): RangeSummary {
      if (!summary) throw new Error("streamRange: summary read before the stream was consumed");
      return summary;
    },
  };
}
