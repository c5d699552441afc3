import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { findUpload, forgetUpload, readResumeEntries, rememberUpload, type ResumeEntry } from "../shared/upload-resume.ts";

/**
 * Where the CLI remembers its unfinished uploads: $LONGSCRIBE_UPLOAD_STATE,
 * else $XDG_STATE_HOME/longscribe/uploads.json, else
 * ~/.local/state/longscribe/uploads.json.
 */
export function uploadStatePath(env: Record<string, string | undefined>): string {
  if (env.LONGSCRIBE_UPLOAD_STATE) return env.LONGSCRIBE_UPLOAD_STATE;
  // The XDG spec says to ignore a relative path.
  const base = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(env.HOME || homedir(), ".local", "state");
  return join(base, "longscribe", "uploads.json");
}

/**
 * The state file, read again before each change so that two CLIs sending
 * different files do not drop each other's entries. Resuming is a convenience:
 * a file that cannot be read or written costs the resume, never the upload.
 */
export class UploadState {
  constructor(
    readonly path: string,
    private readonly warn: (message: string) => void,
  ) {}

  async find(key: string): Promise<ResumeEntry | undefined> {
    return findUpload(await this.read(), key, Date.now());
  }

  async remember(entry: ResumeEntry): Promise<void> {
    await this.write(rememberUpload(await this.read(), entry, Date.now()));
  }

  async forget(key: string): Promise<void> {
    const entries = await this.read();
    const left = forgetUpload(entries, key);
    if (left.length !== entries.length) await this.write(left);
  }

  private async read(): Promise<ResumeEntry[]> {
    try {
      return readResumeEntries(JSON.parse(await readFile(this.path, "utf8")));
    } catch {
      return [];
    }
  }

  private async write(entries: ResumeEntry[]): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      // Renamed into place, so that a CLI stopped mid-write leaves the old file whole.
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, `${JSON.stringify(entries, null, 2)}\n`);
      await rename(temp, this.path);
    } catch (error) {
      this.warn(`note: cannot write ${this.path} (${(error as Error).message}); this upload cannot be resumed if it is interrupted`);
    }
  }
}
