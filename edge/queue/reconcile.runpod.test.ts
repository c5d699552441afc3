import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { claimFor, queue, runpodAccount, sleep, until, type FakePods } from "../../test/support/fleet-control.ts";
import { TEST_WEBHOOK_SIGNING_KEY } from "../../test/support/test-secrets.ts";
import { verifyMachineCredential } from "../tasks/machine-credential.ts";
import { machine } from "../routes/machine-test-helpers.ts";
import { call, submit } from "../test-helpers.ts";

// Runs in the "edge-runpod" project: MACHINE_PROVIDER "runpod" against runpod.test
// (test/support/fake-providers.ts), IDLE_EXIT_SEC 1 and no idle grace, at most 3 machines.
// The tests share the queue and run in order; each leaves nothing running.
const { state, configure, setStatus } = runpodAccount("runpod-key-solo");
const cancel = async (id: string) => expect((await call("POST", `/v1/transcriptions/${id}/cancel`)).status).toBe(200);

/** The work is gone and idle pods are past IDLE_EXIT_SEC: ticks until no pod runs and the queue stops watching. */
async function drained(): Promise<FakePods> {
  await sleep(1_100);
  const s = await until(state, (x) => x.pods.length === 0, "every pod terminated");
  await until(
    async () => (await queue().fleetStatus()).machines.length,
    (n) => n === 0,
    "the fleet to forget its machines",
  );
  // Nothing left to watch: the alarm is not set again, so an idle deployment costs nothing.
  await runDurableObjectAlarm(queue());
  expect(await runDurableObjectAlarm(queue())).toBe(false);
  return s;
}

describe("the queue's alarm runs GPU pods on RunPod", () => {
  it("a burst starts pods of the first GPU type with room, then the next type; idle pods are terminated and nothing is left running", async () => {
    await configure({ capacity: { "NVIDIA L4": 1 } });
    const before = await state();
    const submittedAt = Date.now();
    const jobs = [await submit({}), await submit({}), await submit({})];
    const s = await until(state, (x) => x.created - before.created >= 3, "three pods");
    const firstCreate = s.calls.find((c) => c.method === "POST" && c.path === "/v2/pods" && c.at >= submittedAt)!;
    console.log(`[runpod] submit → first pod create call: ${firstCreate.at - submittedAt} ms`);
    expect(s.pods.map((p) => p.gpu.id)).toEqual(["NVIDIA L4", "NVIDIA RTX A5000", "NVIDIA RTX A5000"]);
    for (const pod of s.pods) {
      expect(pod.image).toBe("ghcr.io/longscribe/machine:cuda");
      // Everything a pod needs to claim work, and nothing else to set up: its own credential, for its own name, never the shared token.
      const { MACHINE_CREDENTIAL: credential, ...rest } = pod.env;
      expect(rest).toEqual({ WHISPER_BATCH: "16", EDGE_URL: "https://api.test", IDLE_EXIT_SEC: "1" });
      expect(await verifyMachineCredential(TEST_WEBHOOK_SIGNING_KEY, credential!)).toEqual({ provider: "runpod", name: pod.name });
    }
    const fleet = await queue().fleetStatus();
    expect(fleet.machines.map((m) => [m.provider, m.machine_type, m.price_per_hour_usd])).toEqual([
      ["runpod", "NVIDIA L4", 0.43],
      ["runpod", "NVIDIA RTX A5000", 0.27],
      ["runpod", "NVIDIA RTX A5000", 0.27],
    ]);
    // Each pod claims a plan; then the work ends.
    for (const pod of s.pods) expect(await claimFor(pod.id)).toHaveLength(1);
    for (const job of jobs) await cancel(job.id);
    const end = await drained();
    console.log(`[runpod] burst of 3 jobs: pods started ${end.created - before.created}, terminated ${end.terminated - before.terminated}`);
    expect(end.terminated - before.terminated).toBe(3);
  });

  it("a pod that says it is exiting is terminated at once, even before it has idled; one that exits without a word is terminated too", async () => {
    await configure({ capacity: {} });
    const before = await state();
    const first = await submit({});
    const [pod] = (await until(state, (x) => x.pods.length === 1, "a pod")).pods;
    expect(await claimFor(pod!.id)).toHaveLength(1);
    // What a machine sends when IDLE_EXIT_SEC passes without work.
    expect((await machine("/v1/machine/exit", { version: 1, machine_id: pod!.id, reason: "idle" })).status).toBe(204);
    await until(state, (x) => x.pods.length === 0, "the exiting pod terminated", 2_000);
    // A notice from a machine the fleet never started changes nothing.
    expect((await machine("/v1/machine/exit", { version: 1, machine_id: "not-ours", reason: "idle" })).status).toBe(204);
    expect((await machine("/v1/machine/exit", { version: 1, machine_id: "x" }, "wrong-token")).status).toBe(401);

    // A pod whose container exited (RunPod may restart it, or leave it EXITED, billing for its disk).
    const second = await submit({});
    const [pod2] = (await until(state, (x) => x.pods.length === 1, "a second pod")).pods;
    expect(await claimFor(pod2!.id)).toHaveLength(1);
    await setStatus(pod2!.id, "EXITED");
    await until(state, (x) => x.pods.length === 0, "the exited pod terminated");
    await cancel(first.id);
    await cancel(second.id);
    const end = await drained();
    console.log(`[runpod] exit notice and exited pod: pods started ${end.created - before.created}, terminated ${end.terminated - before.terminated}`);
    expect([end.created - before.created, end.terminated - before.terminated]).toEqual([2, 2]);
  });

  it("a pod that dies before its first claim is a failed start: it is terminated, and no pod is made during the back-off", async () => {
    const before = await state();
    const job = await submit({});
    const [pod] = (await until(state, (x) => x.pods.length === 1, "a pod")).pods;
    await setStatus(pod!.id, "ERROR");
    const fleet = await until(
      () => queue().fleetStatus(),
      (f) => f.failed_starts === 1,
      "a failed start",
    );
    expect(fleet.providers).toEqual([expect.objectContaining({ name: "runpod", failures: 1 })]);
    expect(fleet.providers[0]!.last_error).toContain("without having claimed work");
    expect(fleet.backoff_until).toBeGreaterThan(Date.now());
    await until(state, (x) => x.pods.length === 0, "the dead pod terminated");
    await runDurableObjectAlarm(queue());
    expect((await state()).created - before.created).toBe(1);
    await cancel(job.id);
    const end = await drained();
    console.log(`[runpod] crash loop: pods started ${end.created - before.created}, terminated ${end.terminated - before.terminated}`);
  });
});
