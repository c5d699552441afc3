import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Task } from "../../shared/protocol.ts";
import { flyApp, queue, sleep, until } from "../../test/support/fleet-control.ts";
import { TEST_WEBHOOK_SIGNING_KEY } from "../../test/support/test-secrets.ts";
import { machine, V } from "../routes/machine-test-helpers.ts";
import { mintMachineCredential, verifyMachineCredential } from "../tasks/machine-credential.ts";
import { reportRow, submit } from "../test-helpers.ts";

// Runs in the "edge-fleet" project: MACHINE_PROVIDER "fly" against fly.test (test/support/fake-providers.ts).
const fly = flyApp("longscribe-machines");

describe("the queue's alarm sizes the fleet through the Fly Machines API", () => {
  it("starts a machine for new work, backs off when it dies without claiming, and reuses it once machines claim again", async () => {
    await submit({ audio_url: "https://media.test/audio.mp3" });
    // New work sets the queue's alarm for now: it may be running already.
    await runDurableObjectAlarm(queue());
    for (let i = 0; i < 100 && (await queue().fleetStatus()).last_reconcile_at === null; i++) await sleep(50);
    let machines = await fly.machines();
    expect(machines).toHaveLength(1);
    const [m] = machines;
    expect(m!.config.env.EDGE_URL).toBe("https://api.test");
    expect(m!.config.restart).toEqual({ policy: "no" });
    expect(m!.config.metadata).toEqual({ longscribe_role: "transcriber" });
    expect(m!.region).toBe("ord");
    expect((await queue().fleetStatus()).desired).toBe(1);

    // Enough machines: the next tick asks Fly nothing but the list.
    const before = (await fly.calls()).length;
    expect(await runDurableObjectAlarm(queue())).toBe(true);
    expect((await fly.calls()).slice(before)).toEqual(["GET /v1/apps/longscribe-machines/machines"]);

    // The machine dies before its first claim: a failed start, and no new start during the back-off.
    await fly.set(m!.id, "stopped");
    expect(await runDurableObjectAlarm(queue())).toBe(true);
    let status = await queue().fleetStatus();
    expect(status.failed_starts).toBe(1);
    expect(status.backoff_until).toBeGreaterThan(Date.now());
    expect((await fly.machines()).map((x) => x.state)).toEqual(["stopped"]);

    // A claim from a machine this fleet did not start proves nothing about Fly.
    await queue().claim("someone-else", 1, 60);
    expect((await queue().fleetStatus()).failed_starts).toBe(1);
    await submit({ audio_url: "https://media.test/audio.mp3" });

    // After the back-off, one trial machine: the stopped one is started again, not a new one created.
    await sleep(Math.max(0, status.backoff_until! - Date.now()) + 50);
    await runDurableObjectAlarm(queue());
    machines = await fly.machines();
    expect(machines.map((x) => [x.id, x.state])).toEqual([[m!.id, "started"]]);
    expect(await fly.calls()).toContain(`POST /v1/apps/longscribe-machines/machines/${m!.id}/start`);

    // Its first claim ends the run of failures.
    await queue().claim(m!.id, 1, 60);
    status = await queue().fleetStatus();
    expect(status.failed_starts).toBe(0);
    expect(status.machines.find((x) => x.machine_id === m!.id)).toMatchObject({ provider: "fly", machine_type: "performance-8x-16gb" });
  }, 20_000);
});

describe("each machine the fleet starts has its own credential", () => {
  const exitAs = (credential: string, machineId: string) => machine("/v1/machine/exit", { ...V, machine_id: machineId, reason: "idle" }, credential);
  const claimAs = (credential: string, machineId: string) => machine("/v1/machine/claim", { ...V, machine_id: machineId, capacity: 1 }, credential);
  /** Records the case in the reliability report, then asserts it. */
  async function refused(what: string, answer: Response, expected: [number, string]): Promise<void> {
    const body = (await answer.json().catch(() => null)) as { error?: { code?: string } } | null;
    const observed: [number, string] = [answer.status, body?.error?.code ?? "(no error)"];
    const pass = observed[0] === expected[0] && observed[1] === expected[1];
    await reportRow({ suite: "machine credentials", case: what, expected: expected.join(" "), observed: observed.join(" "), pass });
    expect(observed).toEqual(expected);
  }

  it("claims and exits only as itself, cannot be forged, and is shut out once its machine is gone", async () => {
    // The first test's machine is gone: this one starts afresh.
    for (const old of await fly.machines()) await fly.set(old.id, "destroyed");
    const { id: jobId } = await submit({ audio_url: "https://media.test/audio.mp3" });
    await runDurableObjectAlarm(queue());
    const m = (await until(fly.machines, (ms) => ms.some((x) => x.state === "started"), "a machine")).find((x) => x.state === "started")!;
    const credential = m.config.env.MACHINE_CREDENTIAL!;
    // Its own, minted for the name it was created under; no shared secret in its env.
    const opened = await verifyMachineCredential(TEST_WEBHOOK_SIGNING_KEY, credential);
    await reportRow({
      suite: "machine credentials",
      case: "what a machine the fleet creates is given",
      expected: "its own credential naming it; no MACHINE_TOKEN",
      observed: `credential names ${opened?.provider}/${opened?.name} (machine ${m.name}); MACHINE_TOKEN ${m.config.env.MACHINE_TOKEN === undefined ? "absent" : "present"}`,
      pass: opened?.name === m.name && m.config.env.MACHINE_TOKEN === undefined,
    });
    expect(opened).toEqual({ provider: "fly", name: m.name });
    expect(m.config.env.MACHINE_TOKEN).toBeUndefined();

    // As another machine: refused, for claims and for exits (which would retire that machine).
    await refused("a machine's credential claims as another machine", await claimAs(credential, "someone-else"), [403, "forbidden"]);
    await refused("a machine's credential says another machine is exiting (which retires it)", await exitAs(credential, "someone-else"), [403, "forbidden"]);
    // Altered, or signed with another secret, or the right shape with a made-up name: refused.
    const [version, payload, mac] = credential.split(".");
    const flipped = `${version}.${payload}.${mac!.startsWith("A") ? "B" : "A"}${mac!.slice(1)}`;
    await refused("a machine credential with one character of its MAC changed", await claimAs(flipped, m.id), [401, "unauthorized"]);
    const otherSecret = await mintMachineCredential("another-deployment's-secret-0123456789abcdef", { provider: "fly", name: m.name });
    await refused("a machine credential signed with another deployment's secret", await claimAs(otherSecret, m.id), [401, "unauthorized"]);
    const madeUp = await mintMachineCredential(TEST_WEBHOOK_SIGNING_KEY, { provider: "fly", name: "longscribe-never-made" });
    await refused("a genuine credential for a machine this fleet never made", await claimAs(madeUp, m.id), [401, "unauthorized"]);

    // As itself: it gets this job's plan, with a task token naming it.
    const claimed = await claimAs(credential, m.id);
    expect(claimed.status).toBe(200);
    const [task] = ((await claimed.json()) as { tasks: Task[] }).tasks;
    expect(task).toMatchObject({ job_id: jobId, kind: "plan" });
    expect((await queue().fleetStatus()).machines.find((x) => x.machine_id === m.id)?.claimed_at).not.toBeNull();

    // Its machine destroyed, the next tick forgets the credential: a stolen copy is worth nothing.
    await fly.set(m.id, "destroyed");
    await runDurableObjectAlarm(queue());
    await refused("the credential of a machine that is gone", await claimAs(credential, m.id), [401, "unauthorized"]);
  }, 20_000);
});
