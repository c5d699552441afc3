import { retry } from "../../shared/retry.ts";
import {
  ACTIVE_STATES,
  type CredentialFor,
  type EnsureResult,
  type FleetMachine,
  type MachineProvider,
  type StartedMachine,
  type StartFailure,
} from "./machine-provider.ts";
import { ProviderApiError } from "./provider-api.ts";
import type { CloudType, Pod, RunPodClient } from "./runpod-client.ts";
import { listForEnsure, startFailure } from "./start-failure.ts";

export const RUNPOD_API_URL = "https://api.runpod.io";
/** Pods of this deployment are named so; other pods on the account are left alone. */
export const POD_NAME_PREFIX = "longscribe-transcriber-";

export interface RunPodSpec {
  image: string;
  /** RUNPOD_GPU_TYPES, in order of preference: the first with capacity gets the pod. */
  gpuTypes: string[];
  cloudType: CloudType;
  containerDiskGb: number;
  /** What every pod needs (EDGE_URL, IDLE_EXIT_SEC, MACHINE_ENV's settings); its own credential is added per pod. */
  env: Record<string, string>;
}

/** PodStatus as the fleet reads states (machine-provider.ts). */
const STATES: Record<string, string> = {
  PROVISIONING: "created",
  STARTING: "starting",
  RUNNING: "started",
  EXITED: "stopped",
  ERROR: "failed",
  TERMINATED: "destroyed",
};

/**
 * RunPod v2 answers "no capacity" as a 400 whose only signal is its `detail`
 * text ("There are no longer any instances available with the requested
 * specifications…"); these are the wordings seen from RunPod's APIs.
 */
const NO_CAPACITY =
  /no longer any instances available|no instances available|not enough free gpus|out of capacity|insufficient capacity|could not be placed|does not have the resources/i;

/**
 * RunPod Pods: one GPU pod per machine, created from our image with all it
 * needs in its env, and terminated (never stopped: a stopped pod bills for its
 * disk, and may come back on a host whose GPU is taken) once it is not needed.
 */
export class RunPodProvider implements MachineProvider {
  readonly name = "runpod";
  readonly keepsStopped = false;

  constructor(
    private readonly client: RunPodClient,
    private readonly spec: RunPodSpec,
    private readonly options: { newName?: () => string; sleep?: (ms: number) => Promise<void> } = {},
  ) {}

  async list(): Promise<FleetMachine[]> {
    return (await this.ours()).map((p) => ({ id: p.id, state: STATES[p.status] ?? p.status.toLowerCase(), machine_type: p.gpu?.id ?? "unknown" }));
  }

  /** Creates pods until `desired` are up; never reuses an EXITED pod (it is terminated instead). */
  async ensure(desired: number, credentialFor: CredentialFor): Promise<EnsureResult> {
    const machines = await listForEnsure(() => this.list());
    if (!Array.isArray(machines)) return machines;
    let active = machines.filter((m) => ACTIVE_STATES.has(m.state)).length;
    const created: StartedMachine[] = [];
    // GPU types that had no room during this call are not asked again in it.
    const full = new Set<string>();
    while (active < desired) {
      const made = await this.createOne(full, credentialFor);
      if ("failure" in made) return { active, started: [], created, failure: made.failure };
      created.push(made);
      active += 1;
    }
    return { active, started: [], created, failure: null };
  }

  async retire(id: string): Promise<void> {
    try {
      await this.client.terminate(id);
    } catch (error) {
      // Already gone is what we wanted.
      if (error instanceof ProviderApiError && error.status === 404) return;
      throw error;
    }
  }

  /** One pod on the first GPU type with room, or why none could be had. */
  private async createOne(full: Set<string>, credentialFor: CredentialFor): Promise<StartedMachine | { failure: StartFailure }> {
    let last: ProviderApiError | null = null;
    let sawCapacity = false;
    let refusedAccess = 0;
    let asked = 0;
    for (const type of this.spec.gpuTypes) {
      if (full.has(type)) {
        sawCapacity = true;
        continue;
      }
      asked += 1;
      try {
        const pod = await this.createPod(type, credentialFor);
        return { id: pod.id, machine_type: pod.gpu?.id ?? type, name: pod.name };
      } catch (error) {
        if (!(error instanceof ProviderApiError)) return { failure: startFailure(error) };
        // RunPod's own advice: 400 (no room for this type, or a rule) and 403 (no access to this pool) → next type.
        if (error.status === 400 || error.status === 403) {
          full.add(type);
          last = error;
          if (NO_CAPACITY.test(error.detail)) sawCapacity = true;
          if (error.status === 403) refusedAccess += 1;
          continue;
        }
        // 401 (key), 402 (balance), 422 (our request), outages: no other type would fare better.
        return { failure: startFailure(error) };
      }
    }
    const types = this.spec.gpuTypes.join(", ");
    if (sawCapacity) return { failure: { kind: "capacity", message: `no capacity for any of ${types}${last ? `: ${last.detail}` : ""}` } };
    if (asked > 0 && refusedAccess === asked) return { failure: { kind: "auth", message: `the API key may not use any of ${types}: ${last?.detail ?? ""}` } };
    return { failure: { kind: "rejected", message: `every GPU type was refused (${types})${last ? `: ${last.message}` : ""}` } };
  }

  /**
   * A create that failed in transit (5xx, 429, no answer) may still have made
   * the pod, and RunPod has no idempotency key: before trying again, look for
   * the pod by the unique name this attempt chose.
   */
  private async createPod(type: string, credentialFor: CredentialFor): Promise<Pod> {
    const name = this.options.newName?.() ?? `${POD_NAME_PREFIX}${crypto.randomUUID().slice(0, 13)}`;
    const env = { ...this.spec.env, ...(await credentialFor(name)) };
    return retry(
      async (attempt) => {
        if (attempt > 1) {
          const made = (await this.ours()).find((p) => p.name === name && p.status !== "TERMINATED");
          if (made) return made;
        }
        return this.client.create({
          name,
          image: this.spec.image,
          gpu: { id: type, count: 1 },
          cloud: this.spec.cloudType,
          disk: this.spec.containerDiskGb,
          env,
          ports: [],
        });
      },
      {
        attempts: 3,
        baseMs: 1_000,
        capMs: 8_000,
        retryable: (e) => e instanceof ProviderApiError && e.retryable,
        delayHintMs: (e) => (e instanceof ProviderApiError ? e.retryAfterMs : null),
        ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
      },
    );
  }

  private async ours(): Promise<Pod[]> {
    return (await this.client.list()).filter((p) => p.name.startsWith(POD_NAME_PREFIX) && p.status !== "TERMINATED");
  }
}
