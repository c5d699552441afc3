import { MediaError, redactUrl } from "./errors.ts";
import { MediaSource, type MediaSourceOptions } from "./media-source.ts";
import type { MediaVersion } from "./origin-reader.ts";
import { toSample, toSec } from "./pcm.ts";
import { quietestPoint } from "./quietest-point.ts";

/**
 * Splits a recording into macro ranges for separate machines. Boundaries start
 * evenly spaced (no range longer than `macroChunkSec`, none left tiny) and each is
 * moved to the quietest point within ±`searchSec` of where it fell, found by
 * decoding only that window, so no word is cut between two machines.
 */
export interface PlanOptions extends MediaSourceOptions {
  macroChunkSec?: number;
  searchSec?: number;
  /** Boundary windows decoded at once. */
  concurrency?: number;
  /** Longer recordings are refused with media_too_long before any window is decoded. */
  maxAudioSec?: number;
  /** Stops planning between boundary windows (a canceled task, a shutdown). */
  signal?: AbortSignal;
  /**
   * The most inner boundaries the plan moves to quiet itself. A recording that
   * has more is planned from its duration alone (a 10-hour file in about a
   * second): its boundaries stay where they fell and each range task settles its
   * own edges (settleEdge), in parallel across machines. Infinity: always here.
   */
  settleAtMost?: number;
}

/** 48 hours: longer than any recording a user means to send, short of what a lying header claims. */
export const DEFAULT_MAX_AUDIO_SEC = 48 * 3600;

/**
 * The lowest bitrate a real recording has (Opus and AMR go down to ~5 kbit/s; below
 * 1 kbit/s nothing speech-worthy is coded): a header claiming more audio than its file
 * can hold at this rate is wrong, and planning by it would decode windows for hours.
 */
const MIN_BITS_PER_SEC = 1000;

export interface PlannedRange {
  index: number;
  startSec: number;
  endSec: number;
}

export interface Plan {
  durationSec: number;
  /** "container": stated by the file; "demuxed": the file states none, so every packet was read. */
  durationSource: "container" | "demuxed";
  sampleRate: number;
  channels: number;
  codec: string;
  container: string;
  ranges: PlannedRange[];
  /** The version of the file that was planned. */
  version: MediaVersion;
  /** Set when the inner boundaries were left for range tasks to settle: how far each may move. */
  unsettledSearchSec: number | null;
  /** Things a caller should know about how this file is read (costs, estimates). */
  notes: string[];
  bytesRead: number;
}

export const MIN_MACRO_CHUNK_SEC = 30;

export async function plan(url: string, options: PlanOptions = {}): Promise<Plan> {
  const macro = options.macroChunkSec ?? 300;
  const search = options.searchSec ?? 5;
  if (!(macro >= MIN_MACRO_CHUNK_SEC)) {
    throw new MediaError("invalid_range", `macroChunkSec must be at least ${MIN_MACRO_CHUNK_SEC} (got ${macro}).`);
  }
  const source = await MediaSource.open(url, options);
  try {
    const info = await source.probe();
    const { durationSec, source: durationSource } = await source.duration();
    checkDuration(url, durationSec, source.version.size_bytes, options.maxAudioSec ?? DEFAULT_MAX_AUDIO_SEC);
    const notes: string[] = [];
    if (durationSource === "demuxed") notes.push("The container states no duration; it was found by reading every packet of the file once.");
    if (info.container === "mp3" && (await source.mp3Seeking()) === "vbr") {
      notes.push("Variable-bitrate MP3: its seek table is too coarse for exact times, so each range is reached by reading the file from its start.");
    }

    const total = toSample(durationSec);
    const n = Math.max(1, Math.ceil(durationSec / macro - 1e-9));
    const nominal = Array.from({ length: n - 1 }, (_, k) => Math.round(((k + 1) * total) / n));
    const deferred = nominal.length > (options.settleAtMost ?? Number.POSITIVE_INFINITY);
    const moved = deferred
      ? nominal
      : await mapLimit(nominal, options.concurrency ?? 4, async (at) => {
          options.signal?.throwIfAborted();
          return toSample(await settleEdge(source, toSec(at), toSec(total), search));
        });

    const edges = [0, ...moved, total];
    for (let i = 1; i < edges.length; i++) {
      if (!(edges[i]! > edges[i - 1]!))
        throw new MediaError("decode_failed", `${redactUrl(url)}: boundary ${i} did not move forward; the file may be damaged.`);
    }
    return {
      durationSec: toSec(total),
      durationSource,
      sampleRate: info.sampleRate,
      channels: info.channels,
      codec: info.codec,
      container: info.container,
      ranges: edges.slice(1).map((end, index) => ({ index, startSec: toSec(edges[index]!), endSec: toSec(end) })),
      version: source.version,
      unsettledSearchSec: deferred ? search : null,
      notes,
      bytesRead: source.originStats.bytes,
    };
  } finally {
    await source.close();
  }
}

/**
 * The quietest point within ±`searchSec` of `atSec`, found by decoding only that
 * window. The plan runs it for every boundary, or each range task for its own
 * edges; either way the same window gives the same point.
 */
export async function settleEdge(source: MediaSource, atSec: number, totalSec: number, searchSec: number): Promise<number> {
  const at = toSample(atSec);
  const lo = Math.max(0, at - toSample(searchSec));
  const hi = Math.min(toSample(totalSec), at + toSample(searchSec));
  const window = await source.decode(toSec(lo), toSec(hi));
  if (window.length === 0) return atSec;
  return toSec(lo + quietestPoint(window, 0, window.length, { prefer: at - lo }));
}

function checkDuration(url: string, durationSec: number, sizeBytes: number, maxAudioSec: number): void {
  const hours = (sec: number) => `${(sec / 3600).toFixed(1)} h`;
  if (durationSec > (sizeBytes * 8) / MIN_BITS_PER_SEC) {
    throw new MediaError(
      "media_too_long",
      `${redactUrl(url)} claims ${hours(durationSec)} of audio in ${sizeBytes} bytes, under ${MIN_BITS_PER_SEC / 1000} kbit/s: its header is wrong or the file is damaged; re-encode it.`,
    );
  }
  if (durationSec > maxAudioSec) {
    throw new MediaError(
      "media_too_long",
      `${redactUrl(url)} is ${hours(durationSec)} long; this deployment transcribes at most ${hours(maxAudioSec)} (MAX_AUDIO_SEC): split it.`,
    );
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
