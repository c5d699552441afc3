import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The team's shared material lives beside the repository (../shared). Every test
 * reads it through here, and skips with this message only when a file is really
 * not there (a checkout without the shared folder).
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARED_ROOT = resolve(REPO_ROOT, "..", "shared");

export function sharedPath(...parts: string[]): string {
  return join(SHARED_ROOT, ...parts);
}

/** The paths that are missing, with a message for `describe.skipIf`. */
export function missingShared(...relative: string[]): { missing: boolean; reason: string } {
  const gone = relative.filter((r) => !existsSync(sharedPath(r)));
  const reason = gone.length ? `skipped: ${gone.map((g) => sharedPath(g)).join(", ")} not found (the team's shared data sits beside the repository)` : "";
  if (gone.length) console.warn(reason);
  return { missing: gone.length > 0, reason };
}

/** A JSON Lines file (manifests, segment lists): one object per non-blank line. */
export function readJsonl<T>(path: string): T[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}
