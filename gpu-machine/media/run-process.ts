import { spawn } from "node:child_process";

/**
 * Runs a short-lived tool (ffprobe, an ffmpeg pass that prints a little) to
 * completion. Output is capped: a misbehaving binary must not fill memory.
 */
export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const CAP = 4 * 1024 * 1024;

/**
 * The environment media tools run with: what they need to start and nothing of the
 * machine's own (MACHINE_TOKEN, provider credentials). ffmpeg and ffprobe parse
 * untrusted files, so they are the likeliest thing on a machine to be subverted.
 */
export function toolEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8" };
}

export function runProcess(bin: string, args: string[], options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: toolEnv() });
    options.signal?.addEventListener("abort", () => child.kill("SIGKILL"), { once: true });
    const out = new OutputTail(CAP);
    const err = new OutputTail(16 * 1024);
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: out.text(), stderr: err.text() });
    });
  });
}

/** Keeps the last `cap` bytes of a stream (ffmpeg's last error lines are what matter). */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly cap: number) {}
  push(d: Buffer): void {
    this.chunks.push(d);
    this.size += d.length;
    while (this.size > this.cap && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.cap)).toString("utf8");
  }
}

/** ffmpeg's last meaningful stderr line, for error messages. */
export function lastLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.at(-1) ?? "(no output)";
}
