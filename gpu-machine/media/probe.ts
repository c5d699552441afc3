import { MediaError } from "./errors.ts";
import { lastLine, runProcess } from "./run-process.ts";

/** What a planner needs to know about a recording, from ffprobe over the local proxy. */
export interface MediaInfo {
  /** Null when neither the container nor the stream states it. */
  durationSec: number | null;
  sampleRate: number;
  channels: number;
  codec: string;
  container: string;
}

interface FfprobeJson {
  format?: { format_name?: string; duration?: string };
  streams?: { codec_type?: string; codec_name?: string; sample_rate?: string; channels?: number; duration?: string }[];
}

export async function probeMedia(ffprobe: string, url: string, label: string, signal?: AbortSignal): Promise<MediaInfo> {
  const res = await runProcess(ffprobe, ["-v", "error", "-reconnect", "1", "-print_format", "json", "-show_format", "-show_streams", url], {
    timeoutMs: 60_000,
    ...(signal ? { signal } : {}),
  });
  if (res.code !== 0) {
    throw new MediaError("not_media", `${label} could not be read as audio or video: ${lastLine(res.stderr)}`);
  }
  const json = JSON.parse(res.stdout) as FfprobeJson;
  const audio = json.streams?.find((s) => s.codec_type === "audio");
  if (!audio) throw new MediaError("not_media", `${label} has no audio stream.`);
  const sampleRate = Number(audio.sample_rate);
  const channels = audio.channels ?? 0;
  if (!(sampleRate > 0) || !(channels > 0)) throw new MediaError("not_media", `${label} has an audio stream without a sample rate or channel count.`);
  return {
    durationSec: positive(json.format?.duration) ?? positive(audio.duration),
    sampleRate,
    channels,
    codec: audio.codec_name ?? "unknown",
    container: containerName(json.format?.format_name ?? "unknown"),
  };
}

/**
 * Duration for containers that do not state it (a WebM straight out of a browser's
 * MediaRecorder, a streamed Ogg): demux every packet without decoding and take the
 * last timestamp. This reads the whole file, so the plan says it did.
 */
export async function demuxedDurationSec(ffmpeg: string, url: string, label: string, signal?: AbortSignal): Promise<number> {
  const res = await runProcess(
    ffmpeg,
    ["-nostdin", "-v", "error", "-reconnect", "1", "-i", url, "-map", "0:a:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
    { timeoutMs: 15 * 60_000, ...(signal ? { signal } : {}) },
  );
  const times = [...res.stdout.matchAll(/^out_time_us=(\d+)$/gm)].map((m) => Number(m[1]));
  const last = times.at(-1);
  if (res.code !== 0 || last === undefined || last <= 0) {
    throw new MediaError("not_media", `${label}: the container states no duration and reading it through found none: ${lastLine(res.stderr)}`);
  }
  return last / 1e6;
}

function positive(v: string | undefined): number | null {
  const n = Number(v);
  return v !== undefined && Number.isFinite(n) && n > 0 ? n : null;
}

function containerName(formatName: string): string {
  if (formatName.startsWith("mov,mp4")) return "mp4";
  if (formatName.startsWith("matroska")) return "matroska";
  return formatName.split(",")[0] ?? formatName;
}
