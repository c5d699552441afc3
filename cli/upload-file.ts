import { type FileHandle, open, stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import { retry } from "../shared/retry.ts";
import { sleep } from "../shared/sleep.ts";
import { missingParts, type PartRange } from "../shared/upload-parts.ts";
import { resumeKey } from "../shared/upload-resume.ts";
import type { Upload } from "../shared/uploads.ts";
import type { ApiClient } from "./api-client.ts";
import { ApiErrorAnswer, ApiUnreachable, CodedError, Interrupted } from "./cli-errors.ts";
import type { CliIo } from "./cli-io.ts";
import { byteSize, UploadProgress } from "./upload-progress.ts";
import { UploadState, uploadStatePath } from "./upload-state.ts";

/**
 * `longscribe transcribe FILE` against an API that cannot reach this computer:
 * the file goes up with the multipart upload API, a part at a time from disk,
 * a few parts in flight, each retried on its own. The upload's id is kept in
 * the state file (upload-state.ts) until a job is made from it, so that the
 * same command run again on the unchanged file sends only what is missing.
 */

/** Parts in flight at once: enough to hide a round trip, few enough to stay gentle. */
const PARTS_IN_FLIGHT = 3;
/** Memory is one buffer per part in flight; large parts mean fewer in flight. */
const MAX_BUFFERED_BYTES = 192 * 2 ** 20;
const PART_ATTEMPTS = 5;

export interface SentFile {
  uploadId: string;
  /** Call once a job holds the upload: the file no longer needs its resume entry. */
  done(): Promise<void>;
}

interface Source {
  path: string;
  size: number;
  mtimeMs: number;
}

export async function uploadLocalFile(client: ApiClient, path: string, io: CliIo): Promise<SentFile> {
  const info = await stat(path);
  const file: Source = { path, size: info.size, mtimeMs: Math.trunc(info.mtimeMs) };
  const key = resumeKey([client.baseUrl, file.path, file.size, file.mtimeMs]);
  const state = new UploadState(uploadStatePath(io.env), (message) => io.stderr.write(`${message}\n`));

  let upload = await resumable(client, state, key, file, io);
  if (!upload) {
    upload = await client.createUpload({ multipart: true, size_bytes: file.size, content_type: contentType(path), filename: basename(path) });
    expectSize(upload, file);
    // Remembered before any part is sent: an interruption at any point leaves it resumable.
    await state.remember({ key, upload_id: upload.id, expires_at: upload.expires_at });
  }

  try {
    for (let round = 1; upload.status !== "completed"; round++) {
      await sendParts(client, file, upload, missingParts(upload.size_bytes, upload.part_size_bytes, upload.parts), io);
      await expectUnchanged(file);
      try {
        upload = await client.completeUpload(upload.id);
      } catch (error) {
        // A part the server lost or refused after answering it: ask which, send them, once.
        if (round >= 2 || !(error instanceof ApiErrorAnswer && error.code === "upload_incomplete")) throw error;
        upload = await client.getUpload(upload.id);
      }
    }
  } catch (error) {
    throw await explained(error, upload, key, state, io);
  }
  const uploadId = upload.id;
  return { uploadId, done: () => state.forget(key) };
}

/** The upload an earlier run left for this unchanged file, if the server still has it. */
async function resumable(client: ApiClient, state: UploadState, key: string, file: Source, io: CliIo): Promise<Upload | null> {
  const entry = await state.find(key);
  if (!entry) return null;
  let upload: Upload;
  try {
    upload = await client.getUpload(entry.upload_id);
  } catch (error) {
    if (!(error instanceof ApiErrorAnswer && (error.status === 404 || error.status === 410))) throw error;
    io.stderr.write(`the earlier upload of ${file.path} (${entry.upload_id}) is gone (${error.code}); sending the file anew\n`);
    await state.forget(key);
    return null;
  }
  if (upload.size_bytes !== file.size) {
    await state.forget(key);
    return null;
  }
  if (upload.status === "completed") {
    io.stderr.write(`${file.path} is already uploaded as ${upload.id}; not sending it again\n`);
  } else {
    const missing = missingParts(upload.size_bytes, upload.part_size_bytes, upload.parts);
    const held = upload.size_bytes - missing.reduce((sum, p) => sum + (p.end - p.start), 0);
    io.stderr.write(`resuming upload ${upload.id}: ${byteSize(held)} of ${byteSize(upload.size_bytes)} already sent\n`);
  }
  return upload;
}

async function sendParts(client: ApiClient, file: Source, upload: Upload, missing: PartRange[], io: CliIo): Promise<void> {
  if (missing.length === 0) return;
  const missingBytes = missing.reduce((sum, p) => sum + (p.end - p.start), 0);
  const progress = new UploadProgress({ write: (text) => io.stderr.write(text), isTTY: io.isTTY, columns: io.columns }, file.size, file.size - missingBytes);
  // Stops every part: on Ctrl-C, or when one part has failed for good.
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  io.signal?.addEventListener("abort", interrupt, { once: true });
  if (io.signal?.aborted) stop.abort();
  const queue = [...missing];
  let failure: unknown;
  const handle = await open(file.path, "r");
  try {
    const inFlight = Math.max(1, Math.min(PARTS_IN_FLIGHT, Math.floor(MAX_BUFFERED_BYTES / upload.part_size_bytes), queue.length));
    const worker = async () => {
      // One buffer per worker, reused for each of its parts: memory does not grow with the file.
      const buffer = Buffer.allocUnsafeSlow(upload.part_size_bytes);
      for (let part = queue.shift(); part && !stop.signal.aborted; part = queue.shift()) {
        const bytes = await readPart(handle, buffer, part, file);
        await sendPart(client, upload.id, part.partNumber, bytes, progress, stop.signal);
      }
    };
    await Promise.all(
      Array.from({ length: inFlight }, () =>
        worker().catch((error: unknown) => {
          failure ??= error;
          stop.abort();
        }),
      ),
    );
  } finally {
    io.signal?.removeEventListener("abort", interrupt);
    await handle.close();
    progress.finish();
  }
  if (io.signal?.aborted) throw new Interrupted("interrupted");
  if (failure !== undefined) throw failure;
}

async function sendPart(client: ApiClient, id: string, partNumber: number, bytes: Uint8Array, progress: UploadProgress, signal: AbortSignal): Promise<void> {
  await retry(
    async () => {
      if (signal.aborted) throw new Interrupted("interrupted");
      let sent = 0;
      try {
        await client.putPart(id, partNumber, bytes, {
          signal,
          onSent: (n) => {
            sent += n;
            progress.add(n);
          },
        });
      } catch (error) {
        // The part goes again whole: what this attempt sent no longer counts.
        progress.add(-sent);
        throw error;
      }
    },
    {
      attempts: PART_ATTEMPTS,
      baseMs: 500,
      capMs: 10_000,
      retryable: (error) => error instanceof ApiUnreachable || (error instanceof ApiErrorAnswer && (error.status >= 500 || error.status === 429)),
      delayHintMs: (error) => (error instanceof ApiErrorAnswer ? error.retryAfterMs : null),
      sleep: (ms) => sleep(ms, signal),
    },
  );
}

async function readPart(handle: FileHandle, buffer: Buffer, part: PartRange, file: Source): Promise<Uint8Array> {
  const length = part.end - part.start;
  for (let got = 0; got < length; ) {
    const { bytesRead } = await handle.read(buffer, got, length - got, part.start + got);
    if (bytesRead === 0) throw fileChanged(file);
    got += bytesRead;
  }
  return buffer.subarray(0, length);
}

/** Parts sent from a file that changed meanwhile would make a recording that never existed. */
async function expectUnchanged(file: Source): Promise<void> {
  const now = await stat(file.path);
  if (now.size !== file.size || Math.trunc(now.mtimeMs) !== file.mtimeMs) throw fileChanged(file);
}

function fileChanged(file: Source): CodedError {
  return new CodedError(
    "file_changed",
    `${file.path} changed while it was being sent`,
    "run the same command again once the file no longer changes; it will be sent anew",
  );
}

function expectSize(upload: Upload, file: Source): void {
  if (upload.size_bytes !== file.size) {
    throw new CodedError(
      "unexpected_response",
      `the API made an upload of ${upload.size_bytes} bytes for a file of ${file.size}`,
      "check that --api points at a longscribe API of the same version",
    );
  }
}

/** Says what became of the upload and what to do next; the caller rethrows what this returns. */
async function explained(error: unknown, upload: Upload, key: string, state: UploadState, io: CliIo): Promise<unknown> {
  const kept = `the server keeps it until ${new Date(upload.expires_at).toISOString()}`;
  if (error instanceof Interrupted) {
    io.stderr.write(`upload paused (${upload.id}): run the same command again to send the rest; ${kept}\n`);
    return error;
  }
  if (error instanceof CodedError && error.code === "file_changed") {
    await state.forget(key);
    return error;
  }
  if (error instanceof ApiErrorAnswer && (error.status === 404 || error.status === 410)) {
    await state.forget(key);
    return new CodedError(error.code, `upload ${upload.id}: ${error.message}`, "run the same command again to send the file anew");
  }
  const resume = `the parts sent so far are kept: run the same command again to send the rest (${kept})`;
  if (error instanceof ApiUnreachable)
    return new CodedError("upload_interrupted", `the upload stopped: cannot reach the API at ${error.api} (${error.reason})`, resume);
  if (error instanceof CodedError) return new CodedError(error.code, `upload ${upload.id}: ${error.message}`, error.hint ?? resume);
  return error;
}

const CONTENT_TYPES: Record<string, string> = {
  ".mp3": "audio/mpeg",
  ".wav": "audio/wav",
  ".m4a": "audio/mp4",
  ".aac": "audio/aac",
  ".flac": "audio/flac",
  ".ogg": "audio/ogg",
  ".oga": "audio/ogg",
  ".opus": "audio/ogg",
  ".weba": "audio/webm",
  ".webm": "video/webm",
  ".mp4": "video/mp4",
  ".m4v": "video/mp4",
  ".mov": "video/quicktime",
  ".mkv": "video/x-matroska",
};

/** From the extension, as a browser would say it; the machines read the bytes whatever it says. */
function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}
