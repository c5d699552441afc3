import type { CreateMachine, FlyClient, FlyGuest } from "./fly-client.ts";
import { ACTIVE_STATES, RESTARTABLE_STATES, type EnsureResult, type FleetMachine, type MachineProvider } from "./machine-provider.ts";

/** Marks the machines this deployment manages, so other machines in the app are left alone. */
export const ROLE_METADATA = { longscribe_role: "transcriber" } as const;

export interface MachineSpec {
  image: string;
  guest: FlyGuest;
  region: string | null;
  /** Non-secret settings for the machine; secrets come from the app's secrets (`fly secrets set`). */
  env: Record<string, string>;
}

export class FlyProvider implements MachineProvider {
  constructor(
    private readonly client: FlyClient,
    private readonly spec: MachineSpec,
  ) {}

  async list(): Promise<FleetMachine[]> {
    const all = await this.client.list();
    return all
      .filter((m) => m.config?.metadata?.longscribe_role === ROLE_METADATA.longscribe_role && m.state !== "destroyed")
      .map((m) => ({ id: m.id, state: m.state }));
  }

  async ensure(desired: number): Promise<EnsureResult> {
    const machines = await this.list();
    let active = machines.filter((m) => ACTIVE_STATES.has(m.state)).length;
    const started: string[] = [];
    const created: string[] = [];
    for (const m of machines.filter((x) => RESTARTABLE_STATES.has(x.state))) {
      if (active >= desired) break;
      await this.client.start(m.id);
      started.push(m.id);
      active += 1;
    }
    while (active < desired) {
      const machine = await this.client.create(this.createRequest());
      created.push(machine.id);
      active += 1;
    }
    return { active, started, created };
  }

  async stop(id: string): Promise<void> {
    await this.client.stop(id, { signal: "SIGTERM", timeoutSec: 30 });
  }

  private createRequest(): CreateMachine {
    return {
      ...(this.spec.region ? { region: this.spec.region } : {}),
      config: {
        image: this.spec.image,
        env: this.spec.env,
        guest: this.spec.guest,
        restart: { policy: "no" },
        auto_destroy: false,
        metadata: { ...ROLE_METADATA },
      },
    };
  }
}
