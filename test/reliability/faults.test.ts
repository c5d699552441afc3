import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generated } from "../support/media-files.ts";
import { startMediaServer, type MediaServer, type ServedFile } from "../support/media-server.ts";
import { recordRow } from "../support/reliability-report.ts";
import { missingShared, sharedPath } from "../support/shared-data.ts";
import { packagedModel } from "../support/whisper-models.ts";
import { sameTranscript, Stack, type Transcript } from "./stack.ts";
import { waitUntil } from "../../shared/sleep.ts";

/**
 * Faults on the full local stack (wrangler dev, the supervisor as its own
 * process, machines it starts, a media origin and a webhook receiver, all real
 * processes). Every case transcribes the same excerpt with whisper-tiny and must
 * end with the fault-free transcript: same segments, same order, same text.
 */
const need = missingShared("data/longform/en-20min.opus");
const LEASE_SEC = 6;
/** Every job ends within this, faults included (a lost lease costs LEASE_SEC, a dead fleet a reconcile tick or two). */
const BOUND_SEC = 150;
const SUITE = "faults (full local stack)";

describe.skipIf(need.missing)(SUITE, () => {
  let stack: Stack;
  let media: MediaServer;
  let baseline: Transcript;
  const files: Record<string, ServedFile> = {};
  let excerpt = "";
  let other = "";

  beforeAll(async () => {
    // 120 s of the long-form recording, planned in 60 s ranges: two or three ranges, two machines.
    excerpt = await generated("reliability-excerpt-120.opus", (o) => ["-i", sharedPath("data/longform/en-20min.opus"), "-t", "120", "-c", "copy", o]);
    other = await generated("reliability-other-120.opus", (o) => ["-i", sharedPath("data/longform/en-20min.opus"), "-ss", "600", "-t", "120", "-c", "copy", o]);
    for (const name of ["clean", "kill-one", "kill-all", "kill-supervisor", "restart-edge", "changes"]) files[`/${name}.opus`] = { file: excerpt };
    files["/drop.opus"] = { file: excerpt, fault: { kind: "drop", fromRequest: 8, afterBytes: 4000, times: 2 } };
    files["/flaky.opus"] = { file: excerpt, fault: { kind: "status", status: 503, fromRequest: 8, times: 2 } };
    files["/stall.opus"] = { file: excerpt, fault: { kind: "stall", fromRequest: 10, ms: (LEASE_SEC + 5) * 1000, times: 1 } };
    media = await startMediaServer(files);
    stack = await Stack.start({ model: await packagedModel("tiny"), maxMachines: 2, leaseSec: LEASE_SEC, idleExitSec: 30, audioSecPerMachine: 60 });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await media?.close();
  });

  const submit = (path: string, extra: Record<string, unknown> = {}) =>
    stack.submit({ audio_url: media.url(path), language: "en", macro_chunk_sec: 60, ...extra });

  /** Waits until a machine has started one of the job's ranges; returns those machines. */
  const inRange = async (jobId: string): Promise<string[]> => {
    for (let i = 0; i < 600; i++) {
      const ids = stack.workingOn(jobId);
      if (ids.length > 0) return ids;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no machine started a range of ${jobId}\n${stack.logs().slice(-6000)}`);
  };

  /** Runs a fault case: the job must complete within the bound with the fault-free transcript. */
  const same = async (name: string, jobId: string, fault: string) => {
    const t0 = Date.now();
    const job = await stack.finished(jobId, BOUND_SEC);
    const sec = (Date.now() - t0) / 1000;
    const transcript = job.status === "completed" ? await stack.transcript(jobId) : null;
    const compared = transcript ? sameTranscript(baseline, transcript) : { same: false, detail: `job ${job.status}: ${JSON.stringify(job.error)}` };
    const pass = job.status === "completed" && compared.same;
    recordRow({
      suite: SUITE,
      case: name,
      expected: `completed, transcript identical to the fault-free one`,
      observed: `${job.status} ${sec.toFixed(0)} s after the fault (${fault}); ${compared.detail}`,
      pass,
    });
    expect(job.status).toBe("completed");
    expect(compared.detail).toMatch(/identical/);
  };

  it("fault-free baseline", async () => {
    const job = await submit("/clean.opus", { webhook_url: `${stack.hookBase}/clean` });
    const done = await stack.finished(job.id, BOUND_SEC);
    expect(done.status).toBe("completed");
    baseline = await stack.transcript(job.id);
    expect(baseline.segments.length).toBeGreaterThan(10);
    expect(done.progress?.ranges_total).toBeGreaterThanOrEqual(2);
    recordRow({
      suite: SUITE,
      case: "fault-free baseline",
      expected: "completed",
      observed: `${done.status}: ${baseline.segments.length} segments in ${done.progress?.ranges_total} ranges`,
      pass: done.status === "completed" && baseline.segments.length > 10,
    });
  }, 300_000);

  it("SIGKILL a machine in the middle of a range", async () => {
    const job = await submit("/kill-one.opus");
    const [victim] = await inRange(job.id);
    await stack.killMachine(victim!);
    await same("SIGKILL a machine mid-range", job.id, `machine ${victim} killed`);
  }, 300_000);

  it("SIGKILL every machine at once", async () => {
    const job = await submit("/kill-all.opus");
    await inRange(job.id);
    const machines = (await stack.machines()).filter((m) => m.state === "started");
    await Promise.all(machines.map((m) => stack.killMachine(m.id)));
    await same("SIGKILL every machine at once", job.id, `${machines.length} machines killed`);
  }, 300_000);

  it("kill the supervisor (SIGKILL) and start it again", async () => {
    const job = await submit("/kill-supervisor.opus");
    await inRange(job.id);
    await stack.killSupervisor();
    await new Promise((r) => setTimeout(r, 2000));
    await stack.startSupervisor();
    await same("kill the supervisor mid-job", job.id, "supervisor SIGKILLed, restarted after 2 s");
  }, 300_000);

  it("restart wrangler dev mid-job with its persisted state: the job resumes, no event is delivered twice", async () => {
    const job = await submit("/restart-edge.opus", { webhook_url: `${stack.hookBase}/restart` });
    await inRange(job.id);
    await stack.restartEdge();
    await same("restart wrangler dev mid-job", job.id, "wrangler dev stopped and started on its state");
    // The completion webhook may follow the job's status by a moment.
    await waitUntil(() => stack.deliveries.some((d) => d.jobId === job.id && d.type === "transcription.completed"), { timeoutMs: 10_000, intervalMs: 100 });
    const mine = stack.deliveries.filter((d) => d.jobId === job.id);
    const ids = mine.map((d) => d.id);
    const completed = mine.filter((d) => d.type === "transcription.completed").length;
    const pass = ids.length > 0 && new Set(ids).size === ids.length && completed === 1;
    recordRow({
      suite: SUITE,
      case: "webhooks across a wrangler dev restart",
      expected: "every event delivered once, one completion",
      observed: `${ids.length} deliveries, ${new Set(ids).size} distinct ids, ${completed} completion`,
      pass,
    });
    expect(new Set(ids).size).toBe(ids.length);
    expect(completed).toBe(1);
  }, 300_000);

  it.each([
    ["/drop.opus", "media server drops the connection mid-range"],
    ["/flaky.opus", "media server answers 503, then recovers"],
    ["/stall.opus", `media server stalls ${LEASE_SEC + 5} s (longer than the lease)`],
  ])(
    "%s: %s",
    async (path, name) => {
      const job = await submit(path);
      await same(name, job.id, name);
    },
    300_000,
  );

  it("the file changes between the plan and the read: the job fails, saying so", async () => {
    const job = await submit("/changes.opus");
    await stack.until(job.id, (j) => j.status === "running", BOUND_SEC);
    files["/changes.opus"]!.file = other; // another recording of the same length, at the same URL
    const done = await stack.finished(job.id, BOUND_SEC);
    const pass = done.status === "failed" && done.error?.code === "media_changed";
    recordRow({
      suite: SUITE,
      case: "file changes between probe and read",
      expected: "failed, media_changed",
      observed: `${done.status}${done.error ? `, ${done.error.code}: ${done.error.message.slice(0, 120)}` : ""}`,
      pass,
    });
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("media_changed");
  }, 300_000);
});
