import { backoffDelayMs } from "../../shared/retry.ts";

/**
 * How many machines to run, and on which provider: a pure decision from the
 * queue's work and the fleet's state, taken on every reconcile tick of the
 * queue's alarm.
 */
export interface ProviderHealth {
  /** As MACHINE_PROVIDER names it; the list is in order of preference. */
  name: string;
  /** Its machines started or starting now. */
  active: number;
  /** Failures in a row: starts it refused (capacity, auth, outage) and machines that died before their first claim. */
  failures: number;
  lastFailureAt: number | null;
}

export interface FleetInput {
  pendingTasks: number;
  /** Pending plans: jobs whose length is not known yet. Each may be long, so each counts as a machine's worth. */
  pendingPlans: number;
  pendingAudioSec: number;
  /** Tasks machines hold now; their machines are busy with them. */
  leasedTasks: number;
  leasedAudioSec: number;
  maxMachines: number;
  /** Audio one machine should be given: the fleet is sized to finish in about this machine time each. */
  audioSecPerMachine: number;
  providers: readonly ProviderHealth[];
  now: number;
  random?: () => number;
}

export interface StartAssignment {
  provider: string;
  count: number;
}

export interface FleetDecision {
  /** Machines the work calls for, within the maximum. */
  desired: number;
  /** Machines to start (or create) now, over all providers. */
  start: number;
  /** Where to start them, in order of preference. */
  assign: StartAssignment[];
  /** When every provider is held back after failures, when the first may be tried again. */
  backoffUntil: number | null;
}

/** Starts back off from 10 s up to 10 min while a provider keeps failing. */
export const START_BACKOFF = { baseMs: 10_000, capMs: 600_000 };
/**
 * A provider's failures are forgotten this long after the last one, so that
 * a GPU shortage one afternoon does not leave it on one trial machine at a time
 * for the next job: twice the longest back-off, so a provider failing at the
 * cap never reaches it.
 */
export const FAILURE_MEMORY_MS = 2 * START_BACKOFF.capMs;

export function planFleet(input: FleetInput): FleetDecision {
  const active = input.providers.reduce((sum, p) => sum + p.active, 0);
  const outstanding = input.pendingTasks + input.leasedTasks;
  if (outstanding === 0) return { desired: 0, start: 0, assign: [], backoffUntil: null };
  const bySeconds = Math.ceil((input.pendingAudioSec + input.leasedAudioSec) / Math.max(1, input.audioSecPerMachine));
  // Every task is worked by one machine at a time: more machines than tasks would idle.
  const desired = Math.min(input.maxMachines, outstanding, Math.max(1, bySeconds, input.pendingPlans));
  // Machines that are up take the next pending task when theirs is done, so
  // starting more than there are pending tasks buys nothing.
  const wanted = Math.max(0, Math.min(desired - active, input.pendingTasks));
  if (wanted === 0) return { desired, start: 0, assign: [], backoffUntil: null };
  const { assign, backoffUntil } = assignStarts(wanted, input.providers, input.now, input.random);
  const start = assign.reduce((sum, a) => sum + a.count, 0);
  return { desired, start, assign, backoffUntil: start === 0 ? backoffUntil : null };
}

/**
 * Fills `count` starts from the providers in order. A healthy provider takes
 * all that is left. One that failed lately is skipped while it backs off, and
 * afterwards gets one trial machine at a time (none while one of its machines
 * is up); the rest falls through to the next provider, so a GPU shortage
 * degrades to slower machines rather than a stuck queue.
 */
export function assignStarts(
  count: number,
  providers: readonly ProviderHealth[],
  now: number,
  random: () => number = () => 0.5,
): { assign: StartAssignment[]; backoffUntil: number | null } {
  const assign: StartAssignment[] = [];
  let left = count;
  let backoffUntil: number | null = null;
  for (const p of providers) {
    if (left === 0) break;
    let n = left;
    if (isFailing(p, now)) {
      const until = backoffEnd(p, random);
      if (now < until) {
        backoffUntil = backoffUntil === null ? until : Math.min(backoffUntil, until);
        continue;
      }
      n = p.active === 0 ? 1 : 0;
    }
    if (n > 0) assign.push({ provider: p.name, count: n });
    left -= n;
  }
  return { assign, backoffUntil };
}

/** When a failing provider may be tried again. The random part is fixed per failure count, so that repeated ticks agree on it. */
export function backoffEnd(p: Pick<ProviderHealth, "failures" | "lastFailureAt">, random: () => number = () => 0.5): number {
  return (p.lastFailureAt ?? 0) + backoffDelayMs(p.failures, { ...START_BACKOFF, random });
}

/** Whether a provider's recent failures still count. */
export function isFailing(p: Pick<ProviderHealth, "failures" | "lastFailureAt">, now: number): boolean {
  return p.failures > 0 && p.lastFailureAt !== null && now - p.lastFailureAt < FAILURE_MEMORY_MS;
}
