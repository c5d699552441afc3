import { describe, expect, it } from "vitest";
import { MAX_ATTEMPTS, transition, type JobEvent, type JobState } from "./job-state.ts";

const error = { code: "boom", message: "it broke" };
const machine = { provider: "fly", machine_type: "performance-8x-16gb", price_per_hour_usd: 0.3445 };
const states: Record<JobState["status"], JobState> = {
  queued: { status: "queued", plan_failures: 0 },
  planning: { status: "planning", started_at: 10, attempt: 1, machine_id: "m" },
  running: { status: "running", started_at: 10, planned_at: 20, duration_sec: 600 },
  completed: { status: "completed", started_at: 10, completed_at: 90, duration_sec: 600 },
  failed: { status: "failed", failed_at: 90, started_at: 10, duration_sec: null, error },
  canceled: { status: "canceled", canceled_at: 90, started_at: null, duration_sec: null },
};
const events: Record<JobEvent["type"], JobEvent> = {
  plan_started: { type: "plan_started", at: 100, machine_id: "m", machine },
  plan_lost: { type: "plan_lost", at: 100, error, retryable: true },
  planned: { type: "planned", at: 100, duration_sec: 600, ranges: 2 },
  ranges_done: { type: "ranges_done", at: 100 },
  fail: { type: "fail", at: 100, error },
  cancel: { type: "cancel", at: 100 },
};

/** The status each (state, event) pair leads to; null where the event is illegal. */
const expected: Record<JobState["status"], Record<JobEvent["type"], JobState["status"] | null>> = {
  queued: { plan_started: "planning", plan_lost: null, planned: null, ranges_done: null, fail: "failed", cancel: "canceled" },
  planning: { plan_started: null, plan_lost: "queued", planned: "running", ranges_done: null, fail: "failed", cancel: "canceled" },
  running: { plan_started: null, plan_lost: null, planned: null, ranges_done: "completed", fail: "failed", cancel: "canceled" },
  completed: { plan_started: null, plan_lost: null, planned: null, ranges_done: null, fail: null, cancel: null },
  failed: { plan_started: null, plan_lost: null, planned: null, ranges_done: null, fail: null, cancel: null },
  canceled: { plan_started: null, plan_lost: null, planned: null, ranges_done: null, fail: null, cancel: "canceled" },
};

describe("transition", () => {
  for (const [status, state] of Object.entries(states)) {
    for (const [type, event] of Object.entries(events)) {
      const want = expected[status as JobState["status"]][type as JobEvent["type"]];
      it(`${status} × ${type} → ${want ?? "refused"}`, () => {
        const result = transition(state, event);
        if (want === null) {
          expect(result.ok).toBe(false);
          if (!result.ok) expect(result.reason).toContain(status);
        } else {
          expect(result.ok && result.state.status).toBe(want);
        }
      });
    }
  }

  it("does not rewrite a canceled job when canceled again", () => {
    expect(transition(states.canceled, events.cancel)).toEqual({ ok: true, state: states.canceled, changed: false });
  });

  it("completes a plan with no ranges directly", () => {
    const r = transition(states.planning, { type: "planned", at: 50, duration_sec: 0, ranges: 0 });
    expect(r).toMatchObject({ ok: true, state: { status: "completed", started_at: 10, completed_at: 50, duration_sec: 0 } });
  });

  it("re-queues a lost plan until the attempts run out, and fails at once on a final error", () => {
    let state: JobState = states.queued;
    for (let i = 1; i <= MAX_ATTEMPTS; i++) {
      const started = transition(state, { type: "plan_started", at: i, machine_id: `m${i}`, machine });
      expect(started).toMatchObject({ ok: true, state: { status: "planning", attempt: i, machine_id: `m${i}`, machine } });
      const lost = transition((started as { state: JobState }).state, events.plan_lost);
      state = (lost as { state: JobState }).state;
    }
    expect(state).toMatchObject({ status: "failed", error });
    const final = transition(states.planning, { ...events.plan_lost, retryable: false } as JobEvent);
    expect(final).toMatchObject({ ok: true, state: { status: "failed" } });
  });

  it("keeps start time and duration when a running job fails or is canceled", () => {
    expect(transition(states.running, events.fail)).toMatchObject({ state: { status: "failed", started_at: 10, duration_sec: 600, error } });
    expect(transition(states.running, events.cancel)).toMatchObject({ state: { status: "canceled", started_at: 10, duration_sec: 600 } });
  });
});
