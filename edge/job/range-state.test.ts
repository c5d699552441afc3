import { describe, expect, it } from "vitest";
import { INITIAL_RANGE, rangeTransition, type RangeEvent, type RangeState } from "./range-state.ts";

const error = { code: "decode_error", message: "bad frame" };
const machine = { provider: "runpod", machine_type: "NVIDIA L4", price_per_hour_usd: 0.43 };
const events: Record<RangeEvent["type"], RangeEvent> = {
  lease: { type: "lease", at: 1000, machine_id: "m", machine, lease_until: 61_000 },
  heartbeat: { type: "heartbeat", lease_until: 90_000 },
  progress: { type: "progress", audio_sec_done: 42 },
  complete: { type: "complete", at: 31_000, machine_sec: null },
  lease_expired: { type: "lease_expired", at: 61_000 },
  report_failure: { type: "report_failure", at: 5000, retryable: true, error },
  redo: { type: "redo", reason: { code: "language_vote", message: "came out in nn" } },
};
const leased: RangeState = { status: "leased", attempt: 1, machine_id: "m", machine, leased_at: 1000, lease_until: 61_000, audio_sec_done: 0 };
const states: Record<RangeState["status"], RangeState> = {
  pending: INITIAL_RANGE,
  leased,
  done: { status: "done", attempt: 1, done_at: 2, machine_sec: 3, machine },
  failed: { status: "failed", attempt: 3, error },
};
const legal: Record<RangeState["status"], Array<RangeEvent["type"]>> = {
  pending: ["lease"],
  leased: ["heartbeat", "progress", "complete", "lease_expired", "report_failure"],
  done: ["redo"],
  failed: [],
};

describe("rangeTransition", () => {
  for (const [status, state] of Object.entries(states)) {
    for (const [type, event] of Object.entries(events)) {
      const allowed = legal[status as RangeState["status"]].includes(type as RangeEvent["type"]);
      it(`${status} × ${type} is ${allowed ? "allowed" : "refused"}`, () => {
        expect(rangeTransition(state, event).ok).toBe(allowed);
      });
    }
  }

  it("numbers attempts by lease and keeps the lost attempt's number until the next lease", () => {
    const first = rangeTransition(INITIAL_RANGE, events.lease);
    expect(first).toMatchObject({ ok: true, state: { status: "leased", attempt: 1 } });
    const lost = rangeTransition(leased, events.lease_expired);
    expect(lost).toMatchObject({ ok: true, state: { status: "pending", attempt: 1, last_error: { code: "machine_lost" } } });
    const second = rangeTransition((lost as { state: RangeState }).state, events.lease);
    expect(second).toMatchObject({ ok: true, state: { attempt: 2 } });
  });

  it("fails the range on the third lost attempt or on a final error", () => {
    expect(rangeTransition({ ...leased, attempt: 3 }, events.lease_expired)).toMatchObject({ state: { status: "failed", attempt: 3 } });
    expect(rangeTransition(leased, { ...events.report_failure, retryable: false } as RangeEvent)).toMatchObject({ state: { status: "failed", error } });
  });

  it("measures machine time from the lease when the machine does not report it", () => {
    // The machine that held the lease is what the finished range is priced by.
    expect(rangeTransition(leased, events.complete)).toMatchObject({ state: { status: "done", machine_sec: 30, machine } });
    expect(rangeTransition(leased, { ...events.complete, machine_sec: 12 } as RangeEvent)).toMatchObject({ state: { machine_sec: 12 } });
  });

  it("never lets progress go backwards", () => {
    const ahead = { ...leased, audio_sec_done: 100 };
    expect(rangeTransition(ahead, events.progress)).toMatchObject({ state: { audio_sec_done: 100 } });
  });

  it("a language redo starts a new failure budget: its first lost lease goes back to pending, not to failed", () => {
    let state: RangeState = { status: "done", attempt: 2, done_at: 1, machine_sec: 1, machine };
    const step = (event: RangeEvent) => {
      const next = rangeTransition(state, event);
      if (!next.ok) throw new Error(next.reason);
      state = next.state;
    };
    step(events.redo);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      step(events.lease);
      step(events.lease_expired);
      seen.push(`${state.status}@${state.attempt}`);
    }
    // Attempts keep counting (3, 4, 5: posts of 1 and 2 stay refused); three losses in this round fail it.
    expect(seen).toEqual(["pending@3", "pending@4", "failed@5"]);
  });
});
