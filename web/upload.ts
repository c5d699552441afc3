import { retry } from "../shared/retry.ts";
import { missingParts, type PartRange } from "../shared/upload-parts.ts";
import { findUpload, forgetUpload, readResumeEntries, rememberUpload, type ResumeEntry, resumeKey } from "../shared/upload-resume.ts";
import type { Upload } from "../shared/uploads.ts";
import { completeUpload, createUpload, getUpload, PageError, putPart } from "./api.ts";

/**
 * A file from this computer, sent with the multipart upload API: a part at a
 * time (File.slice reads only that part), a few in flight, each retried on
 * its own. The upload's id is kept in localStorage under the file's name,
 * size and modification time until a job is made from it, so that choosing
 * the same file again after a failure or a closed tab sends only what is missing.
 */

const STORAGE = "longscribe.uploads";
const PARTS_IN_FLIGHT = 3;
const PART_ATTEMPTS = 5;

export interface SentFile {
  uploadId: string;
  /** Call once a job holds the upload: the file no longer needs its resume entry. */
  done(): void;
}

/** `onProgress` gets the fraction of the file the server holds or is receiving, 0…1. */
export async function sendFile(file: File, onProgress: (fraction: number) => void, onNote: (note: string) => void): Promise<SentFile> {
  const key = resumeKey([file.name, file.size, file.lastModified]);
  let upload = await resumable(key, file, onNote);
  if (!upload) {
    upload = await createUpload(file);
    saveEntries(rememberUpload(loadEntries(), { key, upload_id: upload.id, expires_at: upload.expires_at }, Date.now()));
  }
  for (let round = 1; upload.status !== "completed"; round++) {
    try {
      await sendParts(file, upload, onProgress);
      upload = await completeUpload(upload.id);
    } catch (error) {
      if (error instanceof PageError && (error.status === 404 || error.status === 410)) {
        saveEntries(forgetUpload(loadEntries(), key));
        throw new PageError(error.status, error.code, "The server no longer has this upload. Press Transcribe again to send the file anew.");
      }
      // A part the server lost or refused after answering it: ask which, send them, once.
      if (round >= 2 || !(error instanceof PageError && error.code === "upload_incomplete")) throw resumeHint(error);
      upload = await getUpload(upload.id);
    }
  }
  onProgress(1);
  const uploadId = upload.id;
  return { uploadId, done: () => saveEntries(forgetUpload(loadEntries(), key)) };
}

async function resumable(key: string, file: File, onNote: (note: string) => void): Promise<Upload | null> {
  const entry = findUpload(loadEntries(), key, Date.now());
  if (!entry) return null;
  try {
    const upload = await getUpload(entry.upload_id);
    if (upload.size_bytes === file.size) {
      onNote(upload.status === "completed" ? "Already uploaded; not sending it again." : "Continuing the earlier upload of this file…");
      return upload;
    }
  } catch (error) {
    if (!(error instanceof PageError && (error.status === 404 || error.status === 410))) throw error;
  }
  saveEntries(forgetUpload(loadEntries(), key));
  return null;
}

async function sendParts(file: File, upload: Upload, onProgress: (fraction: number) => void): Promise<void> {
  const queue = missingParts(upload.size_bytes, upload.part_size_bytes, upload.parts);
  let done = upload.size_bytes - queue.reduce((sum, p) => sum + (p.end - p.start), 0);
  const inFlight = new Map<number, number>();
  const report = () => onProgress(Math.min(1, (done + [...inFlight.values()].reduce((a, b) => a + b, 0)) / upload.size_bytes));
  report();
  let failure: unknown;
  const worker = async () => {
    for (let part = queue.shift(); part && failure === undefined; part = queue.shift()) {
      await sendPart(upload.id, part, file, (loaded) => {
        inFlight.set(part!.partNumber, loaded);
        report();
      });
      inFlight.delete(part.partNumber);
      done += part.end - part.start;
      report();
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(PARTS_IN_FLIGHT, queue.length) }, () =>
      worker().catch((error: unknown) => {
        failure ??= error;
      }),
    ),
  );
  if (failure !== undefined) throw failure;
}

function sendPart(id: string, part: PartRange, file: File, onSent: (loaded: number) => void): Promise<void> {
  return retry(
    async () => {
      onSent(0);
      await putPart(id, part.partNumber, file.slice(part.start, part.end), onSent);
    },
    {
      attempts: PART_ATTEMPTS,
      baseMs: 500,
      capMs: 10_000,
      // 0: the network, not the server, failed.
      retryable: (error) => error instanceof PageError && (error.status === 0 || error.status === 429 || error.status >= 500),
    },
  );
}

function resumeHint(error: unknown): unknown {
  if (!(error instanceof PageError)) return error;
  return new PageError(error.status, error.code, `${error.message} What was sent is kept: press Transcribe again, or choose the same file later, to continue.`);
}

function loadEntries(): ResumeEntry[] {
  try {
    return readResumeEntries(JSON.parse(localStorage.getItem(STORAGE) ?? "[]"));
  } catch {
    return [];
  }
}

function saveEntries(entries: ResumeEntry[]): void {
  try {
    localStorage.setItem(STORAGE, JSON.stringify(entries));
  } catch {
    // storage full or off: the upload goes on, it only cannot be resumed
  }
}
