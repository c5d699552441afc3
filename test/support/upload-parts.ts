import { createHash } from "node:crypto";
import type { Upload } from "../../shared/uploads.ts";

/**
 * A large file that exists only as a function of the byte offset, so tests and
 * the upload benchmark can send hundreds of MB in parts without a file on disk
 * and check what comes back by its digest.
 */
export function generatedPart(offset: number, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  // A 64 KiB pattern block, shifted by the offset, so parts differ and a misplaced part shows.
  for (let i = 0; i < length; i++) out[i] = ((offset + i) * 2654435761) >>> 24;
  return out;
}

export async function digestOfGenerated(size: number, chunk = 16 * 2 ** 20): Promise<string> {
  const hash = createHash("sha256");
  for (let at = 0; at < size; at += chunk) hash.update(generatedPart(at, Math.min(chunk, size - at)));
  return hash.digest("hex");
}

export interface UploadApi {
  base: string;
  key: string;
}

export async function beginUpload(api: UploadApi, size: number): Promise<Upload> {
  const r = await fetch(`${api.base}/v1/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${api.key}`, "content-type": "application/json" },
    body: JSON.stringify({ multipart: true, size_bytes: size, content_type: "application/octet-stream", filename: "generated.bin" }),
  });
  if (r.status !== 201) throw new Error(`begin: ${r.status} ${await r.text()}`);
  return (await r.json()) as Upload;
}

export async function putPart(api: UploadApi, up: Upload, n: number, signal?: AbortSignal): Promise<Response> {
  const offset = (n - 1) * up.part_size_bytes;
  const body = generatedPart(offset, Math.min(up.part_size_bytes, up.size_bytes - offset));
  return fetch(`${api.base}/v1/uploads/${up.id}/parts/${n}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${api.key}`, "content-type": "application/octet-stream" },
    body,
    ...(signal ? { signal } : {}),
  });
}

/** Sends the given parts, `concurrency` at a time. */
export async function putParts(api: UploadApi, up: Upload, parts: number[], concurrency = 3): Promise<void> {
  const queue = [...parts];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const r = await putPart(api, up, n);
        if (r.status !== 200) throw new Error(`part ${n}: ${r.status} ${await r.text()}`);
      }
    }),
  );
}

/** SHA-256 of what a URL serves, read as a stream. */
export async function digestOfUrl(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok || !r.body) throw new Error(`read back: ${r.status}`);
  const hash = createHash("sha256");
  for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest("hex");
}
