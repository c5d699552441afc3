import { spawn } from "node:child_process";
import { MediaError } from "./errors.ts";
import { SAMPLE_RATE, toSec, type PcmBlock } from "./pcm.ts";
import { lastLine, OutputTail, toolEnv } from "./run-process.ts";

/**
 * Decodes [startSample, endSample) of a recording with one ffmpeg process that
 * seeks in its input (`-ss` before `-i`, so over HTTP it jumps with a Range request
 * instead of reading from byte 0) and writes 16 kHz mono float32 to a pipe.
 *
 * Samples are yielded as ffmpeg produces them; nothing is read ahead beyond the
 * pipe's buffer, so a slow consumer stalls ffmpeg instead of growing memory.
 * The range is cut on the sample grid here, not by ffmpeg's `-t`, so consecutive
 * ranges tile the recording exactly.
 */
export interface DecodeRequest {
  ffmpeg: string;
  /** URL ffmpeg reads (the local range proxy). */
  url: string;
  /** Input options that make seeking in this container exact over HTTP (see mp3-seeking.ts). */
  seekArgs: string[];
  /** Channels in the source: they are averaged with equal weight into one. */
  channels: number;
  startSample: number;
  endSample: number;
  /** For error messages: which recording and range this is. */
  label: string;
  /** Called when ffmpeg fails: an origin error found by the proxy explains it better. */
  originError?: () => MediaError | null;
  /** Aborted when the origin has failed for good: ffmpeg is stopped at once. */
  originFailed?: AbortSignal;
  /** Awaited once when the stream ends, fails or is abandoned. */
  onDone?: () => Promise<void>;
}

export interface DecodeSummary {
  startSample: number;
  expectedSamples: number;
  samples: number;
  /** Seconds the recording ended short of the range (a truncated file); 0 when complete. */
  shortfallSec: number;
  /** Milliseconds from spawn to the first sample. */
  firstSampleMs: number | null;
}

export class DecodeStream implements AsyncIterable<PcmBlock> {
  private result: DecodeSummary | null = null;
  private started = false;

  constructor(private readonly req: DecodeRequest) {
    if (!(req.endSample > req.startSample) || req.startSample < 0) {
      throw new MediaError("invalid_range", `${req.label}: the range must have a positive length and start at or after 0.`);
    }
  }

  /** Available once iteration has finished. */
  get summary(): DecodeSummary {
    if (!this.result) throw new Error("DecodeStream: summary read before the stream was consumed");
    return this.result;
  }

  [Symbol.asyncIterator](): AsyncIterator<PcmBlock> {
    if (this.started) throw new Error("DecodeStream can be iterated once");
    this.started = true;
    return this.runOnce();
  }

  private async *runOnce(): AsyncGenerator<PcmBlock> {
    try {
      yield* this.run();
    } finally {
      await this.req.onDone?.();
    }
  }

  private async *run(): AsyncGenerator<PcmBlock> {
    const { startSample, endSample } = this.req;
    const expected = endSample - startSample;
    const t0 = performance.now();
    const args = [
      "-nostdin",
      "-hide_banner",
      "-loglevel",
      "error",
      "-reconnect",
      "1",
      ...this.req.seekArgs,
      ...(startSample > 0 ? ["-ss", toSec(startSample).toFixed(6)] : []),
      "-i",
      this.req.url,
      // A little beyond the range so ffmpeg stops by itself; we cut exactly.
      "-t",
      (toSec(expected) + 0.5).toFixed(6),
      "-map",
      "0:a:0",
      "-vn",
      "-sn",
      "-dn",
      // ffmpeg's own downmix (-ac 1) weights channels by layout and differs between
      // versions; an explicit mean is the same everywhere.
      ...(this.req.channels > 1 ? ["-af", averageChannels(this.req.channels)] : []),
      "-ac",
      "1",
      "-ar",
      String(SAMPLE_RATE),
      "-f",
      "f32le",
      "-acodec",
      "pcm_f32le",
      "pipe:1",
    ];
    const child = spawn(this.req.ffmpeg, args, { stdio: ["ignore", "pipe", "pipe"], env: toolEnv() });
    const stop = () => child.kill("SIGKILL");
    this.req.originFailed?.addEventListener("abort", stop, { once: true });
    const stderr = new OutputTail(16 * 1024);
    child.stderr.on("data", (d: Buffer) => stderr.push(d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code, signal) => resolve({ code, signal }));
    });
    exited.catch(() => undefined);

    let got = 0;
    let firstSampleMs: number | null = null;
    let carry: Buffer | null = null;
    let done = false;
    try {
      for await (const data of child.stdout as AsyncIterable<Buffer>) {
        const bytes: Buffer = carry ? Buffer.concat([carry, data]) : data;
        const usable = bytes.length - (bytes.length % 4);
        carry = usable < bytes.length ? Buffer.from(bytes.subarray(usable)) : null;
        if (usable === 0) continue;
        const take = Math.min(usable / 4, expected - got);
        const samples = new Float32Array(take);
        new Uint8Array(samples.buffer).set(bytes.subarray(0, take * 4));
        firstSampleMs ??= performance.now() - t0;
        yield { startSample: startSample + got, samples };
        got += take;
        if (got >= expected) {
          done = true;
          break;
        }
      }
    } finally {
      this.req.originFailed?.removeEventListener("abort", stop);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    const { code } = await exited.catch((e: unknown) => {
      throw new MediaError("ffmpeg_missing", `could not run ${this.req.ffmpeg}: ${String(e)}`);
    });
    if (!done) {
      const origin = this.req.originError?.();
      if (origin) throw origin;
      if (code !== 0) {
        const line = lastLine(stderr.text());
        const code_ =
          got === 0 && /matches no streams|Invalid data found|could not find codec|does not contain any stream/i.test(line) ? "not_media" : "decode_failed";
        throw new MediaError(code_, `${this.req.label}: ffmpeg failed after ${toSec(got).toFixed(2)} s of audio: ${line}`);
      }
    }
    this.result = {
      startSample,
      expectedSamples: expected,
      samples: got,
      shortfallSec: toSec(expected - got),
      firstSampleMs,
    };
  }
}

function averageChannels(n: number): string {
  const w = (1 / n).toFixed(8);
  return `pan=mono|c0=${Array.from({ length: n }, (_, i) => `${w}*c${i}`).join("+")}`;
}
