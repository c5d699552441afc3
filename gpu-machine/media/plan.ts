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
}

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
    const notes: string[] = [];
    if (durationSource === "demuxed") notes.push("The container states no duration; it was found by reading every packet of the file once.");
    if (info.container === "mp3" && (await source.mp3Seeking()) === "vbr") {
      notes.push("Variable-bitrate MP3: its seek table is too coarse for exact times, so each range is reached by reading the file from its start.");
    }

    const total = toSample(durationSec);
    const n = Math.max(1, Math.ceil(durationSec / macro - 1e-9));
    const nominal = Array.from({ length: n - 1 }, (_, k) => Math.round(((k + 1) * total) / n));
    const moved = await mapLimit(nominal, options.concurrency ?? 4, async (at) => {
      const lo = Math.max(0, at - toSample(search));
      const hi = Math.min(total, at + toSample(search));
      const window = await source.decode(toSec(lo), toSec(hi));
      if (window.length === 0) return at;
      return lo + quietestPoint(window, 0, window.length, { prefer: at - lo });
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
      notes,
      bytesRead: source.originStats.bytes,
    };
  } finally {
    await source.close();
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
