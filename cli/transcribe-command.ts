import { writeFile } from "node:fs/promises";
import type { CreatedTranscription, TranscriptionJob } from "../shared/api.ts";
import type { TranscriptFormat } from "../shared/formats/render.ts";
import { serveLocalFile } from "../gpu-machine/media/local-file-server.ts";
import type { ApiClient } from "./api-client.ts";
import { CodedError, Interrupted } from "./cli-errors.ts";
import type { CliIo } from "./cli-io.ts";
import { ProgressDisplay } from "./progress-display.ts";
import { waitForJob } from "./wait-for-job.ts";

export interface TranscribeRequest {
  /** An http(s) URL, or a local file to serve (then `local` is true and the CLI always waits). */
  source: string;
  local: boolean;
  wait: boolean;
  format: TranscriptFormat;
  /** --format or --out was given: worth a note when they go unused. */
  transcriptAsked: boolean;
  out: string | undefined;
  language: string | undefined;
}

/** `longscribe transcribe`: returns the exit code. */
export async function transcribe(client: ApiClient, req: TranscribeRequest, io: CliIo): Promise<number> {
  const served = req.local ? await serveLocalFile(req.source) : null;
  try {
    if (served) io.stderr.write(`serving ${req.source} at ${served.url} until the job ends\n`);
    const created = await create(client, served?.url ?? req.source, req);
    const wait = req.wait || req.local;
    // With --wait, stdout carries the transcript, so everything else goes to stderr.
    (wait ? io.stderr : io.stdout).write(createdLines(created));
    if (!wait) {
      if (req.transcriptAsked) {
        io.stderr.write(
          `note: --format and --out apply only with --wait; once \`longscribe status ${created.id}\` says completed, fetch ${created.transcript_url}?format=${req.format}\n`,
        );
      }
      return 0;
    }
    return await follow(client, created, req, io);
  } finally {
    await served?.close();
  }
}

async function create(client: ApiClient, audioUrl: string, req: TranscribeRequest): Promise<CreatedTranscription> {
  try {
    return await client.create({ audio_url: audioUrl, ...(req.language === undefined ? {} : { language: req.language }) });
  } catch (error) {
    if (req.local && error instanceof CodedError && error.code === "url_not_allowed") {
      throw new CodedError(
        error.code,
        error.message,
        "a local file is served from 127.0.0.1, which only the local stack accepts: start it with `npm start` (local mode allows loopback URLs) and use its --api, or pass an http(s) URL that this API can reach",
      );
    }
    throw error;
  }
}

async function follow(client: ApiClient, created: CreatedTranscription, req: TranscribeRequest, io: CliIo): Promise<number> {
  const display = new ProgressDisplay({ write: (text) => io.stderr.write(text), isTTY: io.isTTY, columns: io.columns });
  let job: TranscriptionJob;
  try {
    job = await waitForJob(client, created.id, { pollMs: io.pollMs, display, signal: io.signal });
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    return stopped(client, created.id, req, io);
  }
  if (job.status !== "completed") {
    throw new CodedError(job.error?.code ?? job.status, job.error?.message ?? `the job ended ${job.status}`);
  }
  const transcript = await client.transcript(created.id, req.format);
  if (req.out === undefined) {
    io.stdout.write(transcript);
  } else {
    await writeFile(req.out, transcript);
    io.stderr.write(`wrote ${req.format} transcript to ${req.out}\n`);
  }
  return 0;
}

/** Ctrl-C: a job on a local file cannot go on once the file is no longer served, so it is canceled. */
async function stopped(client: ApiClient, id: string, req: TranscribeRequest, io: CliIo): Promise<number> {
  if (!req.local) {
    io.stderr.write(`stopped waiting; ${id} keeps running: \`longscribe status ${id}\` to check, \`longscribe cancel ${id}\` to stop it\n`);
    return 130;
  }
  const job = await client.cancel(id).catch(() => null);
  io.stderr.write(
    job
      ? `stopped: canceled ${id} (now ${job.status}), since its local file is no longer served\n`
      : `stopped; ${id} could not be canceled and will fail once its local file is no longer served\n`,
  );
  return 130;
}

function createdLines(created: CreatedTranscription): string {
  return `id          ${created.id}\nstatus      ${created.status}\nstatus_url  ${created.status_url}\n`;
}
