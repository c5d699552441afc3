/**
 * Which unfinished upload belongs to which local file, so that sending the
 * same file again resumes it. The CLI keeps these entries in a state file,
 * the web page in localStorage; both change them only through these functions.
 */

export interface ResumeEntry {
  /** What identifies the file and the API: see `resumeKey`. */
  key: string;
  upload_id: string;
  /** Epoch ms, from the upload object: after this the server has dropped it. */
  expires_at: number;
}

/** Enough for anyone's unfinished uploads; the oldest go first. */
const MAX_ENTRIES = 50;

/** A key from the things that must all be unchanged to resume: a changed size or modification time starts anew. */
export function resumeKey(fields: readonly (string | number)[]): string {
  return JSON.stringify(fields);
}

export function findUpload(entries: readonly ResumeEntry[], key: string, nowMs: number): ResumeEntry | undefined {
  return entries.find((e) => e.key === key && e.expires_at > nowMs);
}

/** Adds or replaces the file's entry, dropping expired ones. */
export function rememberUpload(entries: readonly ResumeEntry[], entry: ResumeEntry, nowMs: number): ResumeEntry[] {
  const kept = entries.filter((e) => e.key !== entry.key && e.expires_at > nowMs);
  return [...kept, entry].slice(-MAX_ENTRIES);
}

export function forgetUpload(entries: readonly ResumeEntry[], key: string): ResumeEntry[] {
  return entries.filter((e) => e.key !== key);
}

/** Whatever was stored, as entries: a damaged or foreign value loses only what cannot be read. */
export function readResumeEntries(stored: unknown): ResumeEntry[] {
  if (!Array.isArray(stored)) return [];
  return stored.filter(
    (e): e is ResumeEntry =>
      typeof e === "object" &&
      e !== null &&
      typeof (e as ResumeEntry).key === "string" &&
      typeof (e as ResumeEntry).upload_id === "string" &&
      typeof (e as ResumeEntry).expires_at === "number",
  );
}
