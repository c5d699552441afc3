import { execFile } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { resolveBinaries } from "../../gpu-machine/media/ffmpeg-binaries.ts";
import { REPO_ROOT, sharedPath } from "./shared-data.ts";

const run = promisify(execFile);
export const MEDIA_CACHE = join(REPO_ROOT, ".tmp", "media");

/**
 * Test recordings built from the shared 70.66 s excerpt and cached under .tmp:
 * hour-long files made by repeating the encoded excerpt (stream copy, seconds to
 * build; for counting bytes), and five-minute files encoded in one pass from
 * repeated PCM (a continuous timeline, for checking seek accuracy against a full
 * decode). Built with whichever ffmpeg the machine resolves.
 */
export type LongFormat = "mp3" | "m4a" | "opus" | "ogg" | "flac" | "wav" | "webm" | "mp4";
export const LONG_FORMATS: LongFormat[] = ["mp3", "m4a", "opus", "ogg", "flac", "wav", "webm", "mp4"];

const EXCERPT: Record<LongFormat, string> = {
  mp3: "excerpt.mp3",
  m4a: "excerpt.m4a",
  opus: "excerpt.opus",
  ogg: "excerpt-opus.ogg",
  flac: "excerpt.flac",
  wav: "excerpt-8k-mulaw.wav",
  webm: "excerpt.webm",
  mp4: "excerpt.mp4",
};

async function build(name: string, args: (out: string) => string[]): Promise<string> {
  const out = join(MEDIA_CACHE, name);
  if (existsSync(out)) return out;
  mkdirSync(MEDIA_CACHE, { recursive: true });
  const tmp = `${out}.${process.pid}.partial${name.slice(name.lastIndexOf("."))}`;
  await run(resolveBinaries().ffmpeg, ["-nostdin", "-v", "error", "-y", ...args(tmp)], { maxBuffer: 1 << 20 });
  renameSync(tmp, out);
  return out;
}

/** About 60 minutes: the excerpt 51 times. */
export function hourLong(format: LongFormat): Promise<string> {
  const src = sharedPath("data", "formats", EXCERPT[format]);
  // FLAC's header states the total sample count, which a stream copy leaves at one excerpt's worth.
  const codec = format === "flac" ? ["-c:a", "flac"] : ["-c", "copy"];
  return build(`hour.${format === "ogg" ? "stereo.ogg" : format}`, (out) => ["-stream_loop", "50", "-i", src, ...codec, out]);
}

/** About 10 hours of speech: the shared 20-minute long-form file 30 times (stream copy, seconds to build). */
export function tenHours(): Promise<string> {
  return build("ten-hours.opus", (out) => ["-stream_loop", "29", "-i", sharedPath("data", "longform", "en-20min.opus"), "-c", "copy", out]);
}

export type ContinuousFormat = "mp3-cbr" | "mp3-vbr" | "mp3-untagged" | "m4a" | "opus" | "flac" | "wav" | "webm" | "mp4";
export const CONTINUOUS_FORMATS: ContinuousFormat[] = ["mp3-cbr", "mp3-vbr", "mp3-untagged", "m4a", "opus", "flac", "wav", "webm", "mp4"];

/** About 5 minutes (the excerpt 4 times), encoded in one pass. */
export function continuous(format: ContinuousFormat): Promise<string> {
  const loop = ["-stream_loop", "3", "-i", sharedPath("data", "formats", "excerpt.flac")];
  const video = ["-f", "lavfi", "-i", "color=c=black:s=64x48:r=2"];
  switch (format) {
    case "mp3-cbr":
      return build("cont.cbr.mp3", (o) => [...loop, "-c:a", "libmp3lame", "-b:a", "64k", o]);
    case "mp3-vbr":
      return build("cont.vbr.mp3", (o) => [...loop, "-c:a", "libmp3lame", "-q:a", "5", o]);
    case "mp3-untagged":
      return build("cont.untagged.mp3", (o) => [...loop, "-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", "0", o]);
    case "m4a":
      return build("cont.m4a", (o) => [...loop, "-c:a", "aac", "-b:a", "48k", o]);
    case "opus":
      return build("cont.opus", (o) => [...loop, "-c:a", "libopus", "-b:a", "32k", o]);
    case "flac":
      return build("cont.flac", (o) => [...loop, "-c:a", "flac", o]);
    case "wav":
      return build("cont.wav", (o) => [...loop, "-c:a", "pcm_s16le", o]);
    case "webm":
      return build("cont.webm", (o) => [
        ...video,
        ...loop,
        "-shortest",
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "20k",
        "-c:a",
        "libopus",
        "-b:a",
        "32k",
        o,
      ]);
    case "mp4":
      return build("cont.mp4", (o) => [...video, ...loop, "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "48k", o]);
  }
}

/** Any one-off file made by an ffmpeg command line (synthetic test signals). */
export function generated(name: string, args: (out: string) => string[]): Promise<string> {
  return build(name, args);
}

/** Full decode from byte 0, no seeking: the reference a seek is measured against. */
export async function decodeWhole(file: string, seconds?: number, mix: string[] = ["-ac", "1"]): Promise<Float32Array> {
  const { stdout } = await run(
    resolveBinaries().ffmpeg,
    ["-nostdin", "-v", "error", "-i", file, ...(seconds ? ["-t", String(seconds)] : []), "-map", "0:a:0", ...mix, "-ar", "16000", "-f", "f32le", "-"],
    { maxBuffer: 1 << 30, encoding: "buffer" },
  );
  return new Float32Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.length));
}

/** A WAV of `hours` of digital silence, sparse on disk: a header, then a hole. */
export function silentWav(path: string, hours: number): string {
  const dataBytes = hours * 3600 * 16000 * 2;
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write("WAVEfmt ", 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(16000, 24);
  header.writeUInt32LE(32000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(dataBytes, 40);
  const fd = openSync(path, "w");
  writeSync(fd, header, 0, 44, 0);
  writeSync(fd, Buffer.alloc(2), 0, 2, 44 + dataBytes - 2); // the rest is a hole of zeros
  closeSync(fd);
  return path;
}

/** 2 GB that start with 1 MB of random bytes (what a decoder sees first), sparse after. */
export function randomBytesFile(path: string): string {
  const fd = openSync(path, "w");
  let x = 7;
  const head = Buffer.alloc(1 << 20);
  for (let i = 0; i < head.length; i++) head[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  writeSync(fd, head, 0, head.length, 0);
  writeSync(fd, Buffer.alloc(1), 0, 1, 2 * 1024 ** 3 - 1);
  closeSync(fd);
  return path;
}
