import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { FleetConfig } from "../config.ts";
import type { CredentialFor, EnsureResult, FleetMachine, MachineProvider } from "../providers/machine-provider.ts";
import { DEFAULT_PRICES } from "../providers/prices.ts";
import { Fleet, type FleetWork, type MintCredential } from "./fleet.ts";

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
  /** The env each machine was created with, by id. */
  readonly envs = new Map<string, Record<string, string>>();
  async ensure(desired: number, credentialFor: CredentialFor): Promise<EnsureResult> {
    const created = [];
    while ([...this.machines.values()].filter((m) => m.state === "started").length < desired) {
      const m = { id: `${this.name}-${++this.n}`, state: "started", machine_type: "NVIDIA L4" };
      const name = `name-of-${m.id}`;
      this.envs.set(m.id, await credentialFor(name));
      this.machines.set(m.id, m);
      created.push({ id: m.id, machine_type: m.machine_type, name });
    }
    return { active: desired, started: [], created, failure: null };
  }
  async retire(id: string): Promise<void> {
    this.retired.push(id);
    this.machines.delete(id);
  }
}

/** A stand-in for the queue's minting: the fleet only keeps the rows. */
const mint: MintCredential = async (c) => ({ MACHINE_CREDENTIAL: `${c.provider}/${c.name}` });
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
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(1), new Set(), mint, t0);
      const [id] = [...p.machines.keys()];
      fleet.claimed(id!, true, t0 + 1_000);
      // Ten minutes on one long range: busy, so never idle.
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set([id!]), mint, t0 + 600_000);
      expect(p.retired).toEqual([]);
      // Its work ends; 179 s later it is still within IDLE_EXIT_SEC + grace, at 181 s it is not.
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set(), mint, t0 + 600_000 + 179_000);
      expect(p.retired).toEqual([]);
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set(), mint, t0 + 600_000 + 181_000);
      expect(p.retired).toEqual([id]);
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set(), mint, t0 + 800_000);
      expect(fleet.tracking()).toBe(false);
    });
  });

  it("forgets the machines of a provider taken out of MACHINE_PROVIDER, so the alarm can stop", async () => {
    await withFleet(async (fleet) => {
      const runpod = new FakeProvider("runpod");
      const fly = new FakeProvider("fly", true);
      await fleet.reconcile([runpod, fly], config, DEFAULT_PRICES, 2.5, work(1), new Set(), mint, 2_000_000);
      expect(fleet.status().machines.map((m) => m.provider)).toEqual(["runpod"]);
      await fleet.reconcile([fly], config, DEFAULT_PRICES, 2.5, work(0), new Set(), mint, 2_001_000);
      expect(fleet.status().machines).toEqual([]);
      expect(fleet.status().providers.map((p) => p.name)).toEqual(["fly"]);
      expect(fleet.tracking()).toBe(false);
    });
  });

  it("labels a claim with the provider, type and price it was started at; others are unmanaged", async () => {
    await withFleet(async (fleet) => {
      const p = new FakeProvider("runpod");
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(1), new Set(), mint, 3_000_000);
      const [id] = [...p.machines.keys()];
      expect(fleet.label(id!, 2.5)).toEqual({ provider: "runpod", machine_type: "NVIDIA L4", price_per_hour_usd: 0.43 });
      expect(fleet.label("someone-else", 2.5)).toEqual({ provider: "unmanaged", machine_type: "unknown", price_per_hour_usd: 2.5 });
    });
  });

  it("binds each machine's credential to its id, by the create's answer or else its first claim, and forgets it with the machine", async () => {
    await withFleet(async (fleet) => {
      const p = new FakeProvider("fly", true);
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(1), new Set(), mint, 4_000_000);
      expect(p.envs.get("fly-1")).toEqual({ MACHINE_CREDENTIAL: "fly/name-of-fly-1" });
      const own = { provider: "fly", name: "name-of-fly-1" };
      expect(fleet.identify(own, "fly-1")).toBe("ok");
      expect(fleet.identify(own, "fly-2")).toBe("mismatch");
      expect(fleet.identify({ provider: "runpod", name: "name-of-fly-1" }, "fly-1")).toBe("unknown");

      // A create whose answer was lost: the machine runs, its name is known, its id is not.
      const ensure = p.ensure.bind(p);
      p.ensure = async (_desired, credentialFor) => {
        await credentialFor("lost-answer");
        return { active: 1, started: [], created: [], failure: { kind: "outage", message: "no answer" } };
      };
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(2), new Set(), mint, 4_001_000);
      p.ensure = ensure;
      const unbound = { provider: "fly", name: "lost-answer" };
      // Its first claim binds it, but never to an id another credential holds.
      expect(fleet.identify(unbound, "fly-1")).toBe("mismatch");
      expect(fleet.identify(unbound, "fly-7")).toBe("ok");
      expect(fleet.identify(unbound, "fly-8")).toBe("mismatch");

      // fly-1 is gone, fly-7 still runs: only fly-1's credential goes.
      p.machines.delete("fly-1");
      p.machines.set("fly-7", { id: "fly-7", state: "stopped", machine_type: "NVIDIA L4" });
      await fleet.reconcile([p], config, DEFAULT_PRICES, 2.5, work(0), new Set(), mint, 4_002_000);
      expect(fleet.identify(own, "fly-1")).toBe("unknown");
      expect(fleet.identify(unbound, "fly-7")).toBe("ok");
    });
  });

  it("forgets a credential no machine ever claimed with once a start would count as failed", async () => {
    await withFleet(async (fleet) => {
      const lost = new FakeProvider("fly", true);
      lost.ensure = async (_desired, credentialFor) => {
        await credentialFor("never-claimed");
        return { active: 0, started: [], created: [], failure: { kind: "outage", message: "no answer" } };
      };
      await fleet.reconcile([lost], config, DEFAULT_PRICES, 2.5, work(1), new Set(), mint, 5_000_000);
      const idle = new FakeProvider("fly", true);
      await fleet.reconcile([idle], config, DEFAULT_PRICES, 2.5, work(0), new Set(), mint, 5_000_000 + 59_000);
      await fleet.reconcile([idle], config, DEFAULT_PRICES, 2.5, work(0), new Set(), mint, 5_000_000 + 61_000);
      expect(fleet.identify({ provider: "fly", name: "never-claimed" }, "fly-1")).toBe("unknown");
    });
  });
});
