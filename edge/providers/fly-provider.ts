import type { CreateMachine, FlyClient, FlyGuest } from "./fly-client.ts";
import {
  ACTIVE_STATES,
  RESTARTABLE_STATES,
  type CredentialFor,
  type EnsureResult,
  type FleetMachine,
  type MachineProvider,
  type StartedMachine,
} from "./machine-provider.ts";
import { listForEnsure, startFailure } from "./start-failure.ts";

/** Marks the machines this deployment manages, so other machines in the app are left alone. */
export const ROLE_METADATA = { longscribe_role: "transcriber" } as const;
/** Names are chosen here, before the create call, so each machine's credential can name it. */
const MACHINE_NAME_PREFIX = "longscribe-";

export interface MachineSpec {
  image: string;
  guest: FlyGuest;
  region: string | null;
  /** Non-secret settings for the machine; its own credential is added per machine at creation. */
  env: Record<string, string>;
}

/** A guest's name in the price table: "performance-8x-16gb", or the GPU's kind ("a100-pcie-40gb"). */
export function flyMachineType(guest: FlyGuest): string {
  if (guest.gpu_kind) return `${guest.gpus && guest.gpus > 1 ? `${guest.gpus}x-` : ""}${guest.gpu_kind}`;
  return `${guest.cpu_kind}-${guest.cpus}x-${Number((guest.memory_mb / 1024).toFixed(2))}gb`;
}

/**
 * Fly Machines, and the local supervisor (`name` "local"), which serves the
 * same API with child processes. Machines exit by themselves when idle and stay
 * stopped (restart policy "no"); a later reconcile starts them again.
 */
export class FlyProvider implements MachineProvider {
  readonly keepsStopped = true;
  private readonly machineType: string;

  constructor(
    private readonly client: FlyClient,
    private readonly spec: MachineSpec,
    readonly name: "fly" | "local" = "fly",
  ) {
    this.machineType = name === "local" ? "local" : flyMachineType(spec.guest);
  }

  async list(): Promise<FleetMachine[]> {
    const all = await this.client.list();
    return all
      .filter((m) => m.config?.metadata?.longscribe_role === ROLE_METADATA.longscribe_role && m.state !== "destroyed")
      .map((m) => ({ id: m.id, state: m.state, machine_type: this.machineType }));
  }

  async ensure(desired: number, credentialFor: CredentialFor): Promise<EnsureResult> {
    const machines = await listForEnsure(() => this.list());
    if (!Array.isArray(machines)) return machines;
    let active = machines.filter((m) => ACTIVE_STATES.has(m.state)).length;
    const started: StartedMachine[] = [];
    const created: StartedMachine[] = [];
    try {
      for (const m of machines.filter((x) => RESTARTABLE_STATES.has(x.state))) {
        if (active >= desired) break;
        await this.client.start(m.id);
        started.push({ id: m.id, machine_type: this.machineType });
        active += 1;
      }
      while (active < desired) {
        const name = `${MACHINE_NAME_PREFIX}${crypto.randomUUID().slice(0, 13)}`;
        const machine = await this.client.create(this.createRequest(name, await credentialFor(name)));
        created.push({ id: machine.id, machine_type: this.machineType, name });
        active += 1;
      }
    } catch (error) {
      return { active, started, created, failure: startFailure(error) };
    }
    return { active, started, created, failure: null };
  }

  async retire(id: string): Promise<void> {
    await this.client.stop(id, { signal: "SIGTERM", timeoutSec: 30 });
  }

  private createRequest(name: string, credentialEnv: Record<string, string>): CreateMachine {
    return {
      name,
      ...(this.spec.region ? { region: this.spec.region } : {}),
      config: {
        image: this.spec.image,
        env: { ...this.spec.env, ...credentialEnv },
        guest: this.spec.guest,
        restart: { policy: "no" },
        auto_destroy: false,
        metadata: { ...ROLE_METADATA },
      },
    };
  }
}
