import { execFileSync, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import type { TranscriptionJob } from "../shared/api.ts";
import type { Upload } from "../shared/uploads.ts";
import { startLocalEdge } from "../test/support/local-edge.ts";
import { REPO_ROOT, sharedPath } from "../test/support/shared-data.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "../test/support/test-secrets.ts";
import { beginUpload, digestOfGenerated, digestOfUrl, putParts } from "../test/support/upload-parts.ts";
import { packagedModel } from "../test/support/whisper-models.ts";
import { benchArg, benchMeta, writeResult } from "./results.ts";

/**
 * Uploads through the Worker under wrangler dev (local R2): multipart
 * throughput for a generated file, workerd's peak resident memory meanwhile,
 * and, for a real recording uploaded the same way, the time from its last byte
 * to the job's first segment with a machine already waiting.
 *
 *   npx tsx bench/upload.ts [--mb 1024] [--concurrency 4]
 */
const mb = Number(benchArg("mb", "1024"));
const concurrency = Number(benchArg("concurrency", "4"));
const KEY = TEST_API_KEYS[0];
const auth = { authorization: `Bearer ${KEY}` };

/** workerd's peak resident set (VmHWM), in MB: the Worker's memory with the runtime's. */
function workerdPeakMb(): number | null {
  try {
    const pids = execFileSync("pgrep", ["-f", "workerd serve"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
    const peaks = pids.map((pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0));
    return Math.round(Math.max(...peaks) / 1024);
  } catch {
    return null;
  }
}

const edge = await startLocalEdge({ API_KEYS: TEST_API_KEYS.join(","), WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY, MACHINE_TOKEN: TEST_MACHINE_TOKEN });
try {
  const api = { base: edge.url, key: KEY };
  const size = mb * 2 ** 20;
  const before = workerdPeakMb();
  const up = await beginUpload(api, size);
  const t0 = performance.now();
  await putParts(
    api,
    up,
    Array.from({ length: up.parts_total }, (_, i) => i + 1),
    concurrency,
  );
  const done = (await (await fetch(`${edge.url}/v1/uploads/${up.id}/complete`, { method: "POST", headers: auth })).json()) as Upload;
  const uploadSec = (performance.now() - t0) / 1000;
  const peak = workerdPeakMb();
  const intact = (await digestOfUrl(done.content_url!)) === (await digestOfGenerated(size));

  // A real recording: upload it whole-in-parts, then time its last byte to the first segment.
  const model = await packagedModel("tiny");
  const machine = spawn(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", "serve", "--model", model, "--threads", "2", "--batch", "4"], {
    cwd: REPO_ROOT,
    env: { ...process.env, EDGE_URL: edge.url, MACHINE_TOKEN: TEST_MACHINE_TOKEN, MACHINE_ID: "bench-upload", IDLE_EXIT_SEC: "600", ALLOW_PRIVATE_MEDIA: "1" },
    stdio: ["ignore", "ignore", "ignore"],
  });
  await new Promise((r) => setTimeout(r, 8000)); // the model loads; the machine is then polling for work
  const audio = sharedPath("data/longform/en-20min.opus");
  const bytes = readFileSync(audio);
  const r = await fetch(`${edge.url}/v1/uploads`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ multipart: true, size_bytes: statSync(audio).size, content_type: "audio/ogg", filename: "en-20min.opus" }),
  });
  const rec = (await r.json()) as Upload;
  for (let n = 1; n <= rec.parts_total; n++) {
    const part = bytes.subarray((n - 1) * rec.part_size_bytes, n * rec.part_size_bytes);
    await fetch(`${edge.url}/v1/uploads/${rec.id}/parts/${n}`, { method: "PUT", headers: auth, body: new Uint8Array(part) });
  }
  await fetch(`${edge.url}/v1/uploads/${rec.id}/complete`, { method: "POST", headers: auth });
  const lastByte = performance.now();
  const job = (await (
    await fetch(`${edge.url}/v1/transcriptions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ upload_id: rec.id, language: "en" }),
    })
  ).json()) as TranscriptionJob;
  let firstSegmentSec: number | null = null;
  for (let i = 0; i < 1200 && firstSegmentSec === null; i++) {
    const t = await fetch(`${edge.url}/v1/transcriptions/${job.id}/transcript?format=json&partial=true`, { headers: auth });
    if (t.ok && ((await t.json()) as { segments: unknown[] }).segments.length > 0) firstSegmentSec = (performance.now() - lastByte) / 1000;
    else await new Promise((res) => setTimeout(res, 250));
  }
  machine.kill("SIGKILL");

  const result = {
    ...benchMeta(),
    upload: {
      size_mb: mb,
      part_mb: up.part_size_bytes / 2 ** 20,
      parts: up.parts_total,
      concurrency,
      seconds: +uploadSec.toFixed(1),
      mb_per_sec: +(mb / uploadSec).toFixed(1),
      workerd_peak_rss_mb_before: before,
      workerd_peak_rss_mb_after: peak,
      read_back_intact: intact,
    },
    recording: { file: "en-20min.opus", size_mb: +(bytes.length / 2 ** 20).toFixed(1), model: "whisper-tiny", last_byte_to_first_segment_sec: firstSegmentSec },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`wrote ${writeResult("upload", result)}`);
} finally {
  await edge.stop();
}
