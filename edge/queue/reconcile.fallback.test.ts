import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { MachineUsage } from "../../shared/api.ts";
import type { Task } from "../../shared/protocol.ts";
import { claimFor, flyApp, queue, runpodAccount, sleep, until } from "../../test/support/fleet-control.ts";
import { TEST_WEBHOOK_SIGNING_KEY } from "../../test/support/test-secrets.ts";
import { mintTaskToken } from "../tasks/task-token.ts";
import { media, post } from "../routes/machine-test-helpers.ts";
import { call, getJob, submit } from "../test-helpers.ts";

// Runs in the "edge-fallback" project: MACHINE_PROVIDER "runpod,fly" against runpod.test and
// fly.test (test/support/fake-providers.ts); IDLE_EXIT_SEC 1, no idle grace, 60 s of audio per machine.
const APP = "longscribe-fallback";
const { state: pods, configure: runpod } = runpodAccount("runpod-key-fallback");
const { machines: flyMachines, calls: flyCalls } = flyApp(APP);
const NO_ROOM = { capacity: { "NVIDIA L4": 0, "NVIDIA RTX A5000": 0, "NVIDIA A100 80GB PCIe": 0 } };

/** Claims as machine `id` until it gets a task of `jobId`. */
async function claimAs(id: string, jobId: string): Promise<Task> {
  const tasks = await claimFor(id);
  const task = tasks.find((t) => t.job_id === jobId);
  if (!task) throw new Error(`${id} got ${JSON.stringify(tasks)} instead of a task of ${jobId}`);
  // The route adds the task token; the queue's own answer has none, so mint one as the route does.
  return { ...task, task_token: await taskToken(task, id) };
}

async function taskToken(task: Omit<Task, "task_token">, machineId: string): Promise<string> {
  return mintTaskToken(TEST_WEBHOOK_SIGNING_KEY, { job_id: task.job_id, task_id: task.task_id, attempt: task.attempt, machine_id: machineId });
}

describe("RunPod first, Fly when RunPod cannot start machines", () => {
  it("a job finishes on Fly while RunPod has no capacity, and its usage prices each range by the machine type that ran it", async () => {
    await runpod(NO_ROOM);
    const job = await submit({});
    // RunPod refuses every GPU type; in the same tick Fly gets the machine.
    const [fly] = await until(flyMachines, (m) => m.length === 1, "a Fly machine");
    expect((await pods()).created).toBe(0);
    const status = await queue().fleetStatus();
    expect(status.providers.map((p) => [p.name, p.failures])).toEqual([
      ["runpod", 1],
      ["fly", 0],
    ]);
    expect(status.providers[0]!.last_error).toMatch(/^capacity: no capacity for any of NVIDIA L4, NVIDIA RTX A5000, NVIDIA A100 80GB PCIe/);

    // The Fly machine takes the plan. Meanwhile RunPod has room again (A5000s only), and its back-off runs out.
    const plan = await claimAs(fly!.id, job.id);
    await runpod({ capacity: { "NVIDIA L4": 0, "NVIDIA A100 80GB PCIe": 0 } });
    await sleep(Math.max(0, status.providers[0]!.last_failure_at! + 7_500 - Date.now()) + 50);

    // Planned into two 120 s ranges: the Fly machine takes the first, and RunPod, out of its
    // back-off but still on trial, gets one pod for the other.
    expect(
      (
        await post(plan, "complete", {
          machine_sec: 2,
          plan: {
            duration_sec: 240,
            ranges: [
              { start_sec: 0, end_sec: 120 },
              { start_sec: 120, end_sec: 240 },
            ],
            media,
          },
        })
      ).status,
    ).toBe(200);
    const first = await claimAs(fly!.id, job.id);
    const [pod] = (await until(pods, (p) => p.pods.length === 1, "a trial pod")).pods;
    expect(pod!.gpu.id).toBe("NVIDIA RTX A5000");
    expect(await flyMachines()).toHaveLength(1);
    const second = await claimAs(pod!.id, job.id);
    // Its first claim ends RunPod's run of failures.
    expect((await queue().fleetStatus()).providers[0]!.failures).toBe(0);

    expect((await post(first, "complete", { machine_sec: 50 })).status).toBe(200);
    expect((await post(second, "complete", { machine_sec: 20 })).status).toBe(200);
    const done = await getJob(job.id);
    expect(done.status).toBe("completed");
    const fly8x = { provider: "fly", machine_type: "performance-8x-16gb", price_per_hour_usd: 0.3445 };
    const a5000 = { provider: "runpod", machine_type: "NVIDIA RTX A5000", price_per_hour_usd: 0.27 };
    const expected: MachineUsage[] = [
      { ...fly8x, machine_sec: 52, cost_usd: round6((52 / 3600) * 0.3445), plan: true, ranges: [0] },
      { ...a5000, machine_sec: 20, cost_usd: round6((20 / 3600) * 0.27), plan: false, ranges: [1] },
    ];
    expect(done.usage!.machines).toEqual(expected);
    expect(done.usage!.machine_sec).toBe(72);
    expect(done.usage!.cost_usd).toBeCloseTo((52 / 3600) * 0.3445 + (20 / 3600) * 0.27, 6);
    console.log(`[fallback] cost report of ${job.id}:\n${costReport(done.usage!.machines!, done.usage!.cost_usd)}`);

    // Both machines idle out: the pod is terminated, the Fly machine stopped (kept for a fast restart).
    await sleep(1_100);
    await until(
      async () => [(await pods()).pods.length, (await flyMachines()).map((m) => m.state)],
      ([n, states]) => n === 0 && (states as string[]).every((s) => s === "stopped"),
      "both machines retired",
    );
    const p = await pods();
    console.log(
      `[fallback] capacity shortage: runpod pods started ${p.created}, terminated ${p.terminated}; fly machines created ${(await flyMachines()).length}, stopped ${(await flyMachines()).filter((m) => m.state === "stopped").length}`,
    );
  }, 30_000);

  it("a RunPod key that stops working sends the next job to Fly", async () => {
    await runpod({ auth: "unauthorized", capacity: {} });
    const calls = (await flyCalls()).length;
    const job = await submit({});
    // The stopped Fly machine is started again rather than a new one created.
    const [fly] = await until(flyMachines, (m) => m.some((x) => x.state === "started"), "a Fly machine started");
    expect((await flyCalls()).slice(calls)).toContain(`POST /v1/apps/${APP}/machines/${fly!.id}/start`);
    const status = await queue().fleetStatus();
    // However many ticks the key stays refused within the back-off, it is one failure.
    for (let i = 0; i < 5; i++) await runDurableObjectAlarm(queue());
    expect(status.providers[0]).toMatchObject({ name: "runpod", failures: 1 });
    expect((await queue().fleetStatus()).providers[0]).toMatchObject({ name: "runpod", failures: 1 });
    expect(status.providers[0]!.last_error).toContain("401");
    expect((await pods()).pods).toEqual([]);
    // The Fly machine comes up and takes the plan; then the job is canceled and it idles out.
    await claimAs(fly!.id, job.id);
    expect((await call("POST", `/v1/transcriptions/${job.id}/cancel`)).status).toBe(200);
    await runpod({ auth: "ok" });
    await sleep(1_100);
    await until(flyMachines, (m) => m.every((x) => x.state === "stopped"), "the Fly machine stopped once idle");
  }, 15_000);
});

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function costReport(machines: MachineUsage[], total: number): string {
  const rows = machines.map(
    (m) =>
      `| ${m.provider} | ${m.machine_type} | ${m.price_per_hour_usd} | ${m.plan ? "plan, " : ""}ranges ${m.ranges.join(",")} | ${m.machine_sec} | ${m.cost_usd.toFixed(6)} |`,
  );
  return ["| provider | machine type | $/h | work | machine s | $ |", "|---|---|---|---|---|---|", ...rows, `| total | | | | | ${total.toFixed(6)} |`].join(
    "\n",
  );
}
