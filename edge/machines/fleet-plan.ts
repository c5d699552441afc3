import { backoffDelayMs } from "../../shared/retry.ts";

/**
 * How many machines to run: a pure decision from the queue's work and the
 * fleet's state, taken on every reconcile tick of the queue's alarm.
 */
export interface FleetInput {
  pendingTasks: number;
  /** Pending plans: jobs whose length is not known yet. Each may be long, so each counts as a machine's worth. */
  pendingPlans: number;
  pendingAudioSec: number;
  /** Tasks machines hold now; their machines are busy with them. */
  leasedTasks: number;
  leasedAudioSec: number;
  /** Machines started or starting now. */
  active: number;
  maxMachines: number;
  /** Audio one machine should be given: the fleet is sized to finish in about this machine time each. */
  audioSecPerMachine: number;
  /** Starts in a row that ended without the machine claiming anything (a crash loop). */
  failedStarts: number;
  lastFailedStartAt: number | null;
  now: number;
  random?: () => number;
}

export interface FleetDecision {
  /** Machines the work calls for, within the maximum. */
  desired: number;
  /** Machines to start (or create) now. */
  start: number;
  /** When starting is held back after failed starts, when it may resume. */
  backoffUntil: number | null;
}

/** Starts back off from 10 s up to 10 min while machines keep dying before their first claim. */
export const START_BACKOFF = { baseMs: 10_000, capMs: 600_000 };

export function planFleet(input: FleetInput): FleetDecision {
  const outstanding = input.pendingTasks + input.leasedTasks;
  if (outstanding === 0) return { desired: 0, start: 0, backoffUntil: null };
  const bySeconds = Math.ceil((input.pendingAudioSec + input.leasedAudioSec) / Math.max(1, input.audioSecPerMachine));
  // Every task is worked by one machine at a time: more machines than tasks would idle.
  const desired = Math.min(input.maxMachines, outstanding, Math.max(1, bySeconds, input.pendingPlans));
  // Machines that are up take the next pending task when theirs is done, so
  // starting more than there are pending tasks buys nothing.
  const wanted = Math.max(0, Math.min(desired - input.active, input.pendingTasks));
  if (wanted === 0) return { desired, start: 0, backoffUntil: null };
  if (input.failedStarts > 0 && input.lastFailedStartAt !== null) {
    // The random part is fixed per failure count, so that repeated ticks agree on the deadline.
    const until = input.lastFailedStartAt + backoffDelayMs(input.failedStarts, { ...START_BACKOFF, random: input.random ?? (() => 0.5) });
    if (input.now < until) return { desired, start: 0, backoffUntil: until };
    // In a crash loop, one trial machine at a time: it either claims (which ends the
    // loop) or fails again; none is added while one is up.
    return { desired, start: input.active === 0 ? 1 : 0, backoffUntil: null };
  }
  return { desired, start: wanted, backoffUntil: null };
}
