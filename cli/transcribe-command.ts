import { writeFile } from "node:fs/promises";
import type { CreatedTranscription, SpeakerCounts, TranscriptionJob } from "../shared/api.ts";
import type { TranscriptFormat } from "../shared/formats/render.ts";
import { LiveTranscript } from "../shared/live-transcript.ts";
import { serveLocalFile } from "../gpu-machine/media/local-file-server.ts";
import type { ApiClient } from "./api-client.ts";
import { CodedError, Interrupted } from "./cli-errors.ts";
import type { CliIo } from "./cli-io.ts";
import { failureOf, followJob, type JobEnd } from "./follow-job.ts";
import { LiveOutput } from "./live-output.ts";
import { ProgressDisplay } from "./progress-display.ts";
import { uploadLocalFile } from "./upload-file.ts";
import { waitForJob } from "./wait-for-job.ts";

export interface TranscribeRequest {
  /** An http(s) URL, or a local file (then `local` is true): served to a local stack, uploaded to any other API. */
  source: string;
  local: boolean;
  /** --upload: upload a local file even to an API on loopback (a tunnel to a deployed one). */
  upload: boolean;
  wait: boolean;
  format: TranscriptFormat;
  /** --format or --out was given: worth a note when they go unused. */
  transcriptAsked: boolean;
  out: string | undefined;
  language: string | undefined;
  /** --diarize, with the speaker counts asked for; undefined without it. */
  speakers: SpeakerCounts | undefined;
}

/** `longscribe transcribe`: returns the exit code. */
export async function transcribe(client: ApiClient, req: TranscribeRequest, io: CliIo): Promise<number> {
  if (req.local && (req.upload || !isLoopbackApi(client.baseUrl))) return transcribeUploaded(client, req, io);
  const served = req.local ? await serveLocalFile(req.source) : null;
  try {
    if (served) io.stderr.write(`serving ${req.source} at ${served.url} until the job ends\n`);
    const created = await create(client, { audio_url: served?.url ?? req.source }, req);
    // A served file is gone when the CLI stops, so the CLI waits for the job.
    return await afterCreate(client, created, { ...req, wait: req.wait || served !== null }, io, served !== null);
  } finally {
    await served?.close();
  }
}

/** The file goes to the API's upload store first; the job then reads it from there, so the CLI need not wait. */
async function transcribeUploaded(client: ApiClient, req: TranscribeRequest, io: CliIo): Promise<number> {
  const sent = await uploadLocalFile(client, req.source, io);
  let created: CreatedTranscription;
  try {
    created = await create(client, { upload_id: sent.uploadId }, req);
  } catch (error) {
    if (!(error instanceof CodedError) || error.hint !== undefined) throw error;
    throw new CodedError(error.code, error.message, `the file is uploaded (${sent.uploadId}): run the same command again to retry without sending it again`);
  }
  await sent.done();
  return afterCreate(client, created, req, io, false);
}

/** The local stack runs on this computer and can read a file served on 127.0.0.1; no other API can. */
export function isLoopbackApi(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname;
  return host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

async function afterCreate(client: ApiClient, created: CreatedTranscription, req: TranscribeRequest, io: CliIo, served: boolean): Promise<number> {
  // With --wait, stdout carries the transcript, so everything else goes to stderr.
  (req.wait ? io.stderr : io.stdout).write(createdLines(created));
  if (!req.wait) {
    if (req.transcriptAsked) {
      io.stderr.write(
        `note: --format and --out apply only with --wait; once \`longscribe status ${created.id}\` says completed, fetch ${created.transcript_url}?format=${req.format}\n`,
      );
    }
    return 0;
  }
  return await follow(client, created, req, io, served);
}

async function create(client: ApiClient, source: { audio_url: string } | { upload_id: string }, req: TranscribeRequest): Promise<CreatedTranscription> {
  try {
    return await client.create({
      ...source,
      ...(req.language === undefined ? {} : { language: req.language }),
      ...(req.speakers === undefined ? {} : { diarize: true, ...req.speakers }),
    });
  } catch (error) {
    if ("audio_url" in source && req.local && error instanceof CodedError && error.code === "url_not_allowed") {
      throw new CodedError(
        error.code,
        error.message,
        "a local file is served from 127.0.0.1, which only the local stack accepts: start it with `npm start` (local mode allows loopback URLs) and use its --api, or pass --upload to send the file to the API",
      );
    }
    throw error;
  }
}

async function follow(client: ApiClient, created: CreatedTranscription, req: TranscribeRequest, io: CliIo, served: boolean): Promise<number> {
  const display = new ProgressDisplay({ write: (text) => io.stderr.write(text), isTTY: io.isTTY, columns: io.columns });
  let job: TranscriptionJob;
  try {
    if (req.out === undefined && isStreamed(req.format)) {
      const end = await streamTranscript(client, created, req.format, display, io);
      if (end) {
        const failure = failureOf(end);
        if (failure) throw failure;
        return 0;
      }
      // An API without the event stream: poll, then print the whole transcript.
    }
    job = await waitForJob(client, created.id, { pollMs: io.pollMs, display, signal: io.signal });
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    return stopped(client, created.id, served, io);
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

/** On stdout, text, SRT and WebVTT print as segments are merged; JSON, and a file for --out, are written once the job is done. */
function isStreamed(format: TranscriptFormat): format is "text" | "srt" | "vtt" {
  return format === "text" || format === "srt" || format === "vtt";
}

/**
 * Prints the transcript as it is merged (cli/live-output.ts: in time order,
 * so that without a redone range it ends up as the transcript route's
 * answer). On a terminal, text comes a line per segment, so that the
 * progress bar below it can be redrawn.
 */
async function streamTranscript(
  client: ApiClient,
  created: CreatedTranscription,
  format: "text" | "srt" | "vtt",
  display: ProgressDisplay,
  io: CliIo,
): Promise<JobEnd | null> {
  const output = new LiveOutput(new LiveTranscript(), {
    format,
    textLines: io.stdout.isTTY === true,
    write: (text) => display.around(() => io.stdout.write(text)),
    note: (text) => display.around(() => io.stderr.write(`${text}\n`)),
  });
  const end = await followJob(client, created.id, output, display, io);
  if (end?.status === "completed" && output.replacedPrinted > 0) {
    io.stderr.write(`note: the transcript printed above has parts that were redone; the final one is at ${created.transcript_url}?format=${format}\n`);
  }
  return end;
}

/** Ctrl-C: a job on a served local file cannot go on once the file is no longer served, so it is canceled. */
async function stopped(client: ApiClient, id: string, served: boolean, io: CliIo): Promise<number> {
  if (!served) {
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
