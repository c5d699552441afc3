import { describe, expect, it } from "vitest";
import { planFleet, START_BACKOFF, type FleetInput } from "./fleet-plan.ts";

const base: FleetInput = {
  pendingTasks: 0, pendingPlans: 0, pendingAudioSec: 0, leasedTasks: 0, leasedAudioSec: 0, active: 0,
  maxMachines: 8, audioSecPerMachine: 3600, failedStarts: 0, lastFailedStartAt: null, now: 1_000_000, random: () => 0.5,
};
const plan = (over: Partial<FleetInput>) => planFleet({ ...base, ...over });

describe("fleet size", () => {
  it.each([
    // case, input, desired, start
    ["nothing pending or running: zero", {}, 0, 0],
    ["one new job waiting for its plan", { pendingTasks: 1, pendingPlans: 1 }, 1, 1],
    ["burst of 50 new jobs (plans)", { pendingTasks: 50, pendingPlans: 50 }, 8, 8],
    ["burst of 50 new jobs with 3 already up", { pendingTasks: 50, pendingPlans: 50, active: 3 }, 8, 5],
    ["burst of 50 planned 10 s jobs: one machine's worth", { pendingTasks: 50, pendingAudioSec: 500 }, 1, 1],
    ["one giant job: 10 h in 120 ranges", { pendingTasks: 120, pendingAudioSec: 36_000 }, 8, 8],
    ["one 2 h job: sized by audio, not by ranges", { pendingTasks: 24, pendingAudioSec: 7200 }, 2, 2],
    ["drain: last ranges leased, none pending", { leasedTasks: 3, leasedAudioSec: 900, active: 3 }, 1, 0],
    ["drain: two pending, fleet already larger", { pendingTasks: 2, pendingAudioSec: 600, leasedTasks: 6, leasedAudioSec: 1800, active: 6 }, 1, 0],
    ["more machines wanted than pending tasks", { pendingTasks: 2, pendingAudioSec: 36_000 }, 2, 2],
    ["never above the maximum", { pendingTasks: 1000, pendingAudioSec: 3_600_000, maxMachines: 3 }, 3, 3],
    ["maximum zero: a paused fleet", { pendingTasks: 5, maxMachines: 0 }, 0, 0],
  ] as const)("%s", (_case, input, desired, start) => {
    const d = plan(input);
    expect([d.desired, d.start]).toEqual([desired, start]);
    expect(d.desired).toBeLessThanOrEqual((input as Partial<FleetInput>).maxMachines ?? base.maxMachines);
  });

  it("a crash loop backs off, growing, and then tries one machine at a time", () => {
    const failedAt = base.now;
    const delays: number[] = [];
    for (let failures = 1; failures <= 8; failures++) {
      const held = plan({ pendingTasks: 10, failedStarts: failures, lastFailedStartAt: failedAt, now: failedAt + 1 });
      expect(held.start).toBe(0);
      delays.push(held.backoffUntil! - failedAt);
      const after = plan({ pendingTasks: 10, failedStarts: failures, lastFailedStartAt: failedAt, now: held.backoffUntil! });
      expect(after.start).toBe(1);
      // While the trial machine is up, no other is added.
      expect(plan({ pendingTasks: 10, active: 1, failedStarts: failures, lastFailedStartAt: failedAt, now: held.backoffUntil! }).start).toBe(0);
    }
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(delays[0]).toBeGreaterThanOrEqual(START_BACKOFF.baseMs / 2);
    expect(delays.at(-1)).toBeLessThanOrEqual(START_BACKOFF.capMs);
  });
});
