import type { MachineLabel } from "../../shared/api.ts";
import type { PlanResult } from "../../shared/protocol.ts";
import { assertNever } from "../../shared/assert-never.ts";
import { MAX_ATTEMPTS, type JobError } from "./job-state.ts";

/**
 * One macro range of a job. `attempt` counts leases handed out: a machine
 * holds attempt N, and once that lease is lost or failed the next machine gets
 * N + 1, after which posts from attempt N are refused. A lost lease ("crashed")
 * and a reported failure are kept apart, though both count towards the limit.
 */
export type RangeState =
  /** `round_from`: the attempts before this round (a language redo starts a new one); absent in records from before redos counted apart. */
  | { status: "pending"; attempt: number; last_error: JobError | null; round_from?: number }
  | {
      status: "leased";
      attempt: number;
      machine_id: string;
      machine: MachineLabel | null;
      leased_at: number;
      lease_until: number;
      audio_sec_done: number;
      round_from?: number;
    }
  /** `machine` is what ran it, for usage; null in ranges finished before machines were labelled. */
  | { status: "done"; attempt: number; done_at: number; machine_sec: number; machine: MachineLabel | null }
  | { status: "failed"; attempt: number; error: JobError };

export type RangeEvent =
  | { type: "lease"; at: number; machine_id: string; machine: MachineLabel; lease_until: number }
  | { type: "heartbeat"; lease_until: number }
  | { type: "progress"; audio_sec_done: number }
  | { type: "complete"; at: number; machine_sec: number | null }
  | { type: "lease_expired"; at: number }
  | { type: "report_failure"; at: number; retryable: boolean; error: JobError }
  /** A finished range whose language disagrees with the job's vote goes round again. */
  | { type: "redo"; reason: JobError };

export type RangeTransition = { ok: true; state: RangeState } | { ok: false; reason: string };

export const INITIAL_RANGE: RangeState = { status: "pending", attempt: 0, last_error: null };

/** Attempts of the current round: a redo's first hiccup must not fail a range that used its attempts before. */
export function roundAttempts(state: { attempt: number; round_from?: number }): number {
  return state.attempt - (state.round_from ?? 0);
}

function lost(state: Extract<RangeState, { status: "leased" }>, error: JobError, retryable: boolean): RangeState {
  return retryable && roundAttempts(state) < MAX_ATTEMPTS
    ? { status: "pending", attempt: state.attempt, last_error: error, ...(state.round_from ? { round_from: state.round_from } : {}) }
    : { status: "failed", attempt: state.attempt, error };
}

export function rangeTransition(state: RangeState, event: RangeEvent): RangeTransition {
  const illegal = (): RangeTransition => ({ ok: false, reason: `a ${state.status} range cannot take "${event.type}"` });
  switch (event.type) {
    case "lease":
      return state.status === "pending"
        ? {
            ok: true,
            state: {
              status: "leased",
              attempt: state.attempt + 1,
              machine_id: event.machine_id,
              machine: event.machine,
              leased_at: event.at,
              lease_until: event.lease_until,
              audio_sec_done: 0,
              ...(state.round_from ? { round_from: state.round_from } : {}),
            },
          }
        : illegal();
    case "heartbeat":
      return state.status === "leased" ? { ok: true, state: { ...state, lease_until: event.lease_until } } : illegal();
    case "progress":
      return state.status === "leased" ? { ok: true, state: { ...state, audio_sec_done: Math.max(state.audio_sec_done, event.audio_sec_done) } } : illegal();
    case "complete":
      return state.status === "leased"
        ? {
            ok: true,
            state: {
              status: "done",
              attempt: state.attempt,
              done_at: event.at,
              machine_sec: event.machine_sec ?? (event.at - state.leased_at) / 1000,
              machine: state.machine ?? null,
            },
          }
        : illegal();
    case "lease_expired":
      return state.status === "leased"
        ? { ok: true, state: lost(state, { code: "machine_lost", message: `machine ${state.machine_id} stopped sending heartbeats` }, true) }
        : illegal();
    case "report_failure":
      return state.status === "leased" ? { ok: true, state: lost(state, event.error, event.retryable) } : illegal();
    case "redo":
      // The attempt number goes on (older attempts' posts stay refused); the failure budget starts again.
      return state.status === "done"
        ? { ok: true, state: { status: "pending", attempt: state.attempt, last_error: event.reason, round_from: state.attempt } }
        : illegal();
    default:
      return assertNever(event);
  }
}

export type PlannedRange = PlanResult["ranges"][number];

/** A plan's ranges must tile [0, duration] in order, without gaps or overlaps; null when they do, else why not. */
export function checkPlan(durationSec: number, ranges: readonly PlannedRange[]): string | null {
  if (!(Number.isFinite(durationSec) && durationSec >= 0)) return "duration_sec must be a finite number ≥ 0";
  let cursor = 0;
  for (const [i, r] of ranges.entries()) {
    if (Math.abs(r.start_sec - cursor) > 1e-6) return `range ${i} starts at ${r.start_sec}, expected ${cursor}`;
    if (!(r.end_sec > r.start_sec)) return `range ${i} is empty or reversed`;
    cursor = r.end_sec;
  }
  if (ranges.length > 0 && Math.abs(cursor - durationSec) > 1e-3) return `ranges end at ${cursor}, the recording at ${durationSec}`;
  return null;
}
