/**
 * Where machines come from. The queue's reconcile loop asks each provider, in
 * the order MACHINE_PROVIDER names them, for machines; Fly.io (and the local
 * supervisor, which serves the same API) and RunPod sit behind this one
 * interface (fly-provider.ts, runpod-provider.ts).
 */
export interface FleetMachine {
  id: string;
  /** Normalised: one of ACTIVE_STATES, RESTARTABLE_STATES, or anything else for gone/failed. */
  state: string;
  /** What it runs on, for the price table: "NVIDIA L4", "performance-8x-16gb", "local". */
  machine_type: string;
}

/** Why a provider could not start the machines asked of it; the reconcile loop then tries the next provider. */
export type StartFailureKind =
  /** No capacity for any machine type asked for (RunPod: no instances available). */
  | "capacity"
  /** The API refused our credentials or the account (401/403, no balance). */
  | "auth"
  /** The API was down or kept failing after retries. */
  | "outage"
  /** The API refused the request itself (a bad image, region or setting). */
  | "rejected";

export interface StartFailure {
  kind: StartFailureKind;
  message: string;
}

export interface StartedMachine {
  id: string;
  machine_type: string;
  /** The name its credential was minted for; a machine started again keeps the one it was created with. */
  name?: string;
}

/**
 * The env a machine about to be created gets for its own credential
 * (MACHINE_CREDENTIAL), minted for the name the provider will create it under.
 */
export type CredentialFor = (name: string) => Promise<Record<string, string>>;

export interface EnsureResult {
  /** Machines started or starting after the call. */
  active: number;
  /** Stopped machines started again. */
  started: StartedMachine[];
  created: StartedMachine[];
  /** Set when fewer than `desired` run: why the provider stopped short. */
  failure: StartFailure | null;
}

export interface MachineProvider {
  /** The name MACHINE_PROVIDER lists it by, and usage reports: "runpod", "fly", "local". */
  readonly name: string;
  /**
   * Whether a stopped machine is worth keeping: Fly restarts one in a second
   * with its image on the host; a stopped RunPod pod bills for its disk and may
   * find its GPU gone, so the reconcile loop terminates it instead.
   */
  readonly keepsStopped: boolean;
  /**
   * Makes at least `desired` machines run, reusing stopped ones first where kept;
   * each new machine gets the env `credentialFor` answers for its name. Never
   * throws for a start it could not make (see `failure`).
   */
  ensure(desired: number, credentialFor: CredentialFor): Promise<EnsureResult>;
  list(): Promise<FleetMachine[]>;
  /** Ends a machine's bill: Fly stops it (kept for reuse), RunPod terminates the pod. Idempotent. */
  retire(id: string): Promise<void>;
}

/** States in which a machine is up or coming up, and so counts towards the fleet. */
export const ACTIVE_STATES: ReadonlySet<string> = new Set(["created", "starting", "started", "replacing"]);
/** States from which a start brings a machine back (fast: its image is already on the host). */
export const RESTARTABLE_STATES: ReadonlySet<string> = new Set(["stopped", "suspended"]);
