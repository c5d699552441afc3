import { FINAL_STATUSES, type MachineLabel, type WebhookEventType } from "../../shared/api.ts";
import type { HeartbeatResponse } from "../../shared/protocol.ts";
import { assertNever } from "../../shared/assert-never.ts";

/**
 * A job's lifecycle. Only `transition` changes it, and the job object writes
 * each result in one statement. Times are epoch milliseconds.
 */
export type JobState =
  | { status: "queued"; plan_failures: number }
  | { status: "planning"; started_at: number; attempt: number; machine_id: string; machine?: MachineLabel }
  | { status: "running"; started_at: number; planned_at: number; duration_sec: number }
  | { status: "completed"; started_at: number; completed_at: number; duration_sec: number }
  | { status: "failed"; failed_at: number; started_at: number | null; duration_sec: number | null; error: JobError }
  | { status: "canceled"; canceled_at: number; started_at: number | null; duration_sec: number | null };

export interface JobError {
  code: string;
  message: string;
}

export type JobEvent =
  | { type: "plan_started"; at: number; machine_id: string; machine: MachineLabel }
  /** The planning attempt crashed (lease ran out) or reported failure. */
  | { type: "plan_lost"; at: number; error: JobError; retryable: boolean }
  | { type: "planned"; at: number; duration_sec: number; ranges: number }
  | { type: "ranges_done"; at: number }
  | { type: "fail"; at: number; error: JobError }
  | { type: "cancel"; at: number };

export type Transition = { ok: true; state: JobState; changed: boolean } | { ok: false; reason: string };

/** A plan or range that fails this many times fails the job. */
export const MAX_ATTEMPTS = 3;

export function isTerminal(state: JobState): boolean {
  return FINAL_STATUSES.has(state.status);
}

export interface StateTimes {
  started_at: number | null;
  /** When the job reached a final state, whichever it was. */
  completed_at: number | null;
  duration_sec: number | null;
}

export function stateTimes(s: JobState): StateTimes {
  switch (s.status) {
    case "queued":
      return { started_at: null, completed_at: null, duration_sec: null };
    case "planning":
      return { started_at: s.started_at, completed_at: null, duration_sec: null };
    case "running":
      return { started_at: s.started_at, completed_at: null, duration_sec: s.duration_sec };
    case "completed":
      return { started_at: s.started_at, completed_at: s.completed_at, duration_sec: s.duration_sec };
    case "failed":
      return { started_at: s.started_at, completed_at: s.failed_at, duration_sec: s.duration_sec };
    case "canceled":
      return { started_at: s.started_at, completed_at: s.canceled_at, duration_sec: s.duration_sec };
    default:
      return assertNever(s);
  }
}

const to = (state: JobState): Transition => ({ ok: true, state, changed: true });
const same = (state: JobState): Transition => ({ ok: true, state, changed: false });
const illegal = (state: JobState, event: JobEvent): Transition => ({
  ok: false,
  reason: `a ${state.status} job cannot take "${event.type}"`,
});

export function transition(state: JobState, event: JobEvent): Transition {
  switch (event.type) {
    case "plan_started":
      return state.status === "queued"
        ? to({ status: "planning", started_at: event.at, attempt: state.plan_failures + 1, machine_id: event.machine_id, machine: event.machine })
        : illegal(state, event);
    case "plan_lost":
      if (state.status !== "planning") return illegal(state, event);
      return event.retryable && state.attempt < MAX_ATTEMPTS
        ? to({ status: "queued", plan_failures: state.attempt })
        : to({ status: "failed", failed_at: event.at, started_at: state.started_at, duration_sec: null, error: event.error });
    case "planned":
      if (state.status !== "planning") return illegal(state, event);
      // A recording with nothing to transcribe is done as soon as it is planned.
      return event.ranges === 0
        ? to({ status: "completed", started_at: state.started_at, completed_at: event.at, duration_sec: event.duration_sec })
        : to({ status: "running", started_at: state.started_at, planned_at: event.at, duration_sec: event.duration_sec });
    case "ranges_done":
      return state.status === "running"
        ? to({ status: "completed", started_at: state.started_at, completed_at: event.at, duration_sec: state.duration_sec })
        : illegal(state, event);
    case "fail":
      return isTerminal(state)
        ? illegal(state, event)
        : to({
            status: "failed",
            failed_at: event.at,
            started_at: stateTimes(state).started_at,
            duration_sec: stateTimes(state).duration_sec,
            error: event.error,
          });
    case "cancel":
      if (state.status === "canceled") return same(state);
      return isTerminal(state)
        ? illegal(state, event)
        : to({ status: "canceled", canceled_at: event.at, started_at: stateTimes(state).started_at, duration_sec: stateTimes(state).duration_sec });
    default:
      return assertNever(event);
  }
}

/** Why a machine working on this job should stop, whatever its task; null while the job goes on. */
export function stopAnswer(state: JobState): Extract<HeartbeatResponse, { continue: false }> | null {
  if (state.status === "canceled") return { continue: false, reason: "canceled" };
  return isTerminal(state) ? { continue: false, reason: "job_finished" } : null;
}

/** The webhook event a new state sends, if any. */
export function webhookEventFor(state: JobState): WebhookEventType | null {
  switch (state.status) {
    case "completed":
    case "failed":
    case "canceled":
      return state.status;
    case "queued":
    case "planning":
    case "running":
      return null;
    default:
      return assertNever(state);
  }
}
