import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { FleetConfig } from "../config.ts";
import type { EnsureResult, FleetMachine, MachineProvider } from "../providers/machine-provider.ts";
import { DEFAULT_PRICES } from "../providers/prices.ts";
import { Fleet, type FleetWork } from "./fleet.ts";

/** A provider in memory: machines it made, and what was retired. */
class FakeProvider implements MachineProvider {
  readonly machines = new Map<string, FleetMachine>();
  readonly retired: string[] = [];
  private n = 0;
  constructor(
    readonly name: string,
    readonly keepsStopped = false,
  ) {}
  async list(): Promise<FleetMachine[]> {
    return [...this.machines.values()];
  }
  async ensure(desired: number): Promise<EnsureResult> {
    const created = [];
    while ([...this.machines.values()].filter((m) => m.state === "started").length < desired) {
      const m = { id: `${this.name}-${++this.n}`, state: "started", machine_type: "NVIDIA L4" };
      this.machines.set(m.id, m);
      created.push({ id: m.id, machine_type: m.machine_type });
    }
    return { active: desired, started: [], created, failure: null };
  }
  async retire(id: string): Promise<void> {
    this.retired.push(id);
    this.machines.delete(id);
  }
}

const config = { maxMachines: 4, audioSecPerMachine: 3600, startGraceSec: 60, idleExitSec: 120, idleGraceSec: 60 } as FleetConfig;
const work = (pending: number): FleetWork => ({ pending_tasks: pending, pending_plans: pending, pending_audio_sec: 0, leased_tasks: 0, leased_audio_sec: 0 });
let objects = 0;
/** A Fleet on the storage of a queue object of its own. */
async function withFleet(test: (fleet: Fleet) => Promise<void>): Promise<void> {
  const stub = env.QUEUE.get(env.QUEUE.idFromName(`fleet-unit-${++objects}`));
  await runInDurableObject(stub, async (_queue, state) => test(new Fleet(state.storage.sql)));
}

describe("the fleet's own rules (fake providers, explicit clocks)", () => {
  it("keeps a busy machine however long since its last claim, and retires it idle past IDLE_EXIT_SEC + grace", async () => {
    await withFleet(async (fleet) => {
      const p = new FakeProvider("runpod");
      const t0 = 1_000_000;
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(1), new Set(), t0);
      const [id] = [...p.machines.keys()];
      fleet.claimed(id!, true, t0 + 1_000);
      // Ten minutes on one long range: busy, so never idle.
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set([id!]), t0 + 600_000);
      expect(p.retired).toEqual([]);
      // Its work ends; 179 s later it is still within IDLE_EXIT_SEC + grace, at 181 s it is not.
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set(), t0 + 600_000 + 179_000);
      expect(p.retired).toEqual([]);
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set(), t0 + 600_000 + 181_000);
      expect(p.retired).toEqual([id]);
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set(), t0 + 800_000);
      expect(fleet.tracking()).toBe(false);
    });
  });

  it("forgets the machines of a provider taken out of MACHINE_PROVIDER, so the alarm can stop", async () => {
    await withFleet(async (fleet) => {
      const runpod = new FakeProvider("runpod");
      const fly = new FakeProvider("fly", true);
      await fleet.reconcile([runpod, fly], config, DEFAULT_PRICES, 2.5, work(1), new Set(), 2_000_000);
      expect(fleet.status().machines.map((m) => m.provider)).toEqual(["runpod"]);
      await fleet.reconcile([fly], config, DEFAULT_PRICES, 2.5, work(0), new Set(), 2_001_000);
      expect(fleet.status().machines).toEqual([]);
      expect(fleet.status().providers.map((p) => p.name)).toEqual(["fly"]);
      expect(fleet.tracking()).toBe(false);
    });
  });

  it("labels a claim with the provider, type and price it was started at; others are unmanaged", async () => {
    await withFleet(async (fleet) => {
      const p = new FakeProvider("runpod");
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(1), new Set(), 3_000_000);
      const [id] = [...p.machines.keys()];
      expect(fleet.label(id!, 2.5)).toEqual({ provider: "runpod", machine_type: "NVIDIA L4", price_per_hour_usd: 0.43 });
      expect(fleet.label("someone-else", 2.5)).toEqual({ provider: "unmanaged", machine_type: "unknown", price_per_hour_usd: 2.5 });
    });
  });
});
