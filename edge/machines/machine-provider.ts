/**
 * Where machines come from. The queue's reconcile loop asks for a number of
 * running machines; Fly.io in production and the local supervisor on a laptop
 * both sit behind the Fly Machines API, so one implementation serves both
 * (see fly-provider.ts); another cloud would be another implementation.
 */
export interface FleetMachine {
  id: string;
  state: string;
}

export interface EnsureResult {
  /** Machines started or starting after the call. */
  active: number;
  /** Stopped machines started again. */
  started: string[];
  created: string[];
}

export interface MachineProvider {
  /** Makes at least `desired` machines run, reusing stopped ones first; starting a started machine is a no-op. */
  ensure(desired: number): Promise<EnsureResult>;
  list(): Promise<FleetMachine[]>;
  stop(id: string): Promise<void>;
}

/** States in which a machine is up or coming up, and so counts towards the fleet. */
export const ACTIVE_STATES: ReadonlySet<string> = new Set(["created", "starting", "started", "replacing"]);
/** States from which a start brings a machine back (fast: its image is already on the host). */
export const RESTARTABLE_STATES: ReadonlySet<string> = new Set(["stopped", "suspended"]);
