import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { flyApp, queue, sleep } from "../../test/support/fleet-control.ts";
import { submit } from "../test-helpers.ts";

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
