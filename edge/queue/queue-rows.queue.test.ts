import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { queue } from "../../test/support/fleet-control.ts";
import { claimFor, planned } from "../routes/machine-test-helpers.ts";
import { call, reportRow } from "../test-helpers.ts";

// Runs in the "edge-queue" project: a fleet on a fake Fly app of its own, so the queue's alarm turns while it holds work.

async function rowOf(jobId: string): Promise<{ pending: number; leased: number } | null> {
  return runInDurableObject(
    queue(),
    (_o, state) => state.storage.sql.exec<{ pending: number; leased: number }>("SELECT pending, leased FROM jobs WHERE job_id = ?", jobId).toArray()[0] ?? null,
  );
}

describe("the queue keeps no row for work nobody holds", () => {
  it("deleting a job whose only range a machine holds takes it out of the queue", async () => {
    const { id } = await planned([[0, 120]]);
    await claimFor(id, "range");
    expect(await rowOf(id)).toEqual({ pending: 0, leased: 1 });
    expect((await call("DELETE", `/v1/transcriptions/${id}`)).ok).toBe(true);
    const row = await rowOf(id);
    await reportRow({
      suite: "queue",
      case: "delete a job while a machine holds its only range",
      expected: "no queue row left",
      observed: row ? `row left: ${JSON.stringify(row)}` : "no row",
      pass: row === null,
    });
    expect(row).toBeNull();
  });

  it("a snapshot written after a cancel (a claim in flight) is checked with its job and dropped", async () => {
    const { id } = await planned([[0, 120]]);
    await claimFor(id, "range");
    expect((await call("POST", `/v1/transcriptions/${id}/cancel`)).status).toBe(200);
    expect(await rowOf(id)).toBeNull();
    // A claim that read the job before the cancel writes what it saw after it.
    await queue().update(id, "key_test", Date.now(), { pending: 0, pending_audio_sec: 0, leased: 1, leased_audio_sec: 120, machines: ["m-1"] });
    await runInDurableObject(queue(), (_o, state) => state.storage.sql.exec("UPDATE jobs SET updated_at = 0 WHERE job_id = ?", id));
    await runDurableObjectAlarm(queue());
    const row = await rowOf(id);
    await reportRow({
      suite: "queue",
      case: "a stale leased-only snapshot after a cancel",
      expected: "dropped at the next reconcile tick",
      observed: row ? `row left: ${JSON.stringify(row)}` : "dropped",
      pass: row === null,
    });
    expect(row).toBeNull();
    expect((await queue().stats()).leased_audio_sec).toBe(0);
  });
});
