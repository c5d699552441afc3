import { type ChildProcess, spawn } from "node:child_process";
import type { TranscriptionJob } from "../shared/api.ts";
import { startLocalEdge } from "../test/support/local-edge.ts";
import { tenHours } from "../test/support/media-files.ts";
import { startMediaServer } from "../test/support/media-server.ts";
import { REPO_ROOT } from "../test/support/shared-data.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "../test/support/test-secrets.ts";
import { packagedModel } from "../test/support/whisper-models.ts";
import { benchMeta, writeResult } from "./results.ts";

/**
 * Time to first segment for a 10-hour file on warm machines (two machine
 * processes already polling), with the plan settling every boundary itself
 * (as before) and with range tasks settling their own edges (now): the edge
 * under wrangler dev, whisper-tiny, each measured from the submit.
 *
 *   npx tsx bench/first-segment.ts
 */
const KEY = TEST_API_KEYS[0];
const auth = { authorization: `Bearer ${KEY}` };
const file = await tenHours();
const media = await startMediaServer({ "/ten-hours.opus": { file } });
const model = await packagedModel("tiny");

async function run(label: string, settlesAtMost: string): Promise<Record<string, number | string | null>> {
  const edge = await startLocalEdge({ API_KEYS: TEST_API_KEYS.join(","), WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY, MACHINE_TOKEN: TEST_MACHINE_TOKEN });
  const machines: ChildProcess[] = [];
  try {
    for (const id of ["warm-a", "warm-b"]) {
      machines.push(
        spawn(process.execPath, ["--import", "tsx", "gpu-machine/cli.ts", "serve", "--model", model, "--threads", "1", "--batch", "2"], {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            EDGE_URL: edge.url,
            MACHINE_TOKEN: TEST_MACHINE_TOKEN,
            MACHINE_ID: id,
            IDLE_EXIT_SEC: "600",
            ALLOW_PRIVATE_MEDIA: "1",
            PLAN_SETTLES_AT_MOST: settlesAtMost,
          },
          stdio: ["ignore", "ignore", "ignore"],
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 10_000)); // models loaded: the machines are polling
    const t0 = performance.now();
    const r = await fetch(`${edge.url}/v1/transcriptions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ audio_url: media.url("/ten-hours.opus"), language: "en" }),
    });
    const job = (await r.json()) as TranscriptionJob;
    let plannedSec: number | null = null;
    let firstSec: number | null = null;
    for (let i = 0; i < 2400 && firstSec === null; i++) {
      const j = (await (await fetch(`${edge.url}/v1/transcriptions/${job.id}`, { headers: auth })).json()) as TranscriptionJob;
      if (plannedSec === null && j.status === "running") plannedSec = (performance.now() - t0) / 1000;
      const t = await fetch(`${edge.url}/v1/transcriptions/${job.id}/transcript?format=json&partial=true`, { headers: auth });
      if (t.ok && ((await t.json()) as { segments: unknown[] }).segments.length > 0) firstSec = (performance.now() - t0) / 1000;
      else await new Promise((res) => setTimeout(res, 100));
    }
    const done = (await (await fetch(`${edge.url}/v1/transcriptions/${job.id}`, { headers: auth })).json()) as TranscriptionJob;
    const result = {
      label,
      plan_settles_at_most: settlesAtMost,
      duration_sec: done.progress.audio_sec_total,
      ranges: done.progress.ranges_total,
      submit_to_planned_sec: plannedSec === null ? null : +plannedSec.toFixed(2),
      submit_to_first_segment_sec: firstSec === null ? null : +firstSec.toFixed(2),
    };
    console.log(JSON.stringify(result));
    return result;
  } finally {
    for (const m of machines) m.kill("SIGKILL");
    await edge.stop();
  }
}

try {
  const before = await run("plan settles every boundary", "1000000");
  const after = await run("range tasks settle their own edges", "8");
  console.log(
    `wrote ${writeResult("first-segment", { ...benchMeta(), file: "en-20min.opus × 30 (stream copy)", model: "whisper-tiny", runs: [before, after] })}`,
  );
} finally {
  await media.close();
}
