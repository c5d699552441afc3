import { describe, expect, it } from "vitest";
import { assignStarts, FAILURE_MEMORY_MS, planFleet, START_BACKOFF, type FleetInput, type ProviderHealth } from "./fleet-plan.ts";

const healthy = (name: string, active = 0): ProviderHealth => ({ name, active, failures: 0, lastFailureAt: null });
const base: FleetInput = {
  pendingTasks: 0,
  pendingPlans: 0,
  pendingAudioSec: 0,
  leasedTasks: 0,
  leasedAudioSec: 0,
  maxMachines: 8,
  audioSecPerMachine: 3600,
  providers: [healthy("fly")],
  now: 1_000_000,
  random: () => 0.5,
};
const plan = (over: Partial<FleetInput>) => planFleet({ ...base, ...over });
const up = (active: number) => ({ providers: [healthy("fly", active)] });

describe("fleet size", () => {
  it.each([
    // case, input, desired, start
    ["nothing pending or running: zero", {}, 0, 0],
    ["one new job waiting for its plan", { pendingTasks: 1, pendingPlans: 1 }, 1, 1],
    ["burst of 50 new jobs (plans)", { pendingTasks: 50, pendingPlans: 50 }, 8, 8],
    ["burst of 50 new jobs with 3 already up", { pendingTasks: 50, pendingPlans: 50, ...up(3) }, 8, 5],
    ["burst of 50 planned 10 s jobs: one machine's worth", { pendingTasks: 50, pendingAudioSec: 500 }, 1, 1],
    ["one giant job: 10 h in 120 ranges", { pendingTasks: 120, pendingAudioSec: 36_000 }, 8, 8],
    ["one 2 h job: sized by audio, not by ranges", { pendingTasks: 24, pendingAudioSec: 7200 }, 2, 2],
    ["drain: last ranges leased, none pending", { leasedTasks: 3, leasedAudioSec: 900, ...up(3) }, 1, 0],
    ["drain: two pending, fleet already larger", { pendingTasks: 2, pendingAudioSec: 600, leasedTasks: 6, leasedAudioSec: 1800, ...up(6) }, 1, 0],
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
    const failing = (failures: number, active = 0) => [{ name: "fly", active, failures, lastFailureAt: failedAt }];
    for (let failures = 1; failures <= 8; failures++) {
      const held = plan({ pendingTasks: 10, providers: failing(failures), now: failedAt + 1 });
      expect(held.start).toBe(0);
      delays.push(held.backoffUntil! - failedAt);
      const after = plan({ pendingTasks: 10, providers: failing(failures), now: held.backoffUntil! });
      expect(after.start).toBe(1);
      // While the trial machine is up, no other is added.
      expect(plan({ pendingTasks: 10, providers: failing(failures, 1), now: held.backoffUntil! }).start).toBe(0);
    }
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(delays[0]).toBeGreaterThanOrEqual(START_BACKOFF.baseMs / 2);
    expect(delays.at(-1)).toBeLessThanOrEqual(START_BACKOFF.capMs);
  });
});

describe("which provider", () => {
  const now = 5_000_000;

  it("fills everything from the first provider while it is healthy", () => {
    const d = plan({ pendingTasks: 6, pendingPlans: 6, providers: [healthy("runpod"), healthy("fly")], now });
    expect(d.assign).toEqual([{ provider: "runpod", count: 6 }]);
  });

  it("sends all of it to the next provider while the first backs off after a failure", () => {
    const d = plan({ pendingTasks: 4, pendingPlans: 4, providers: [{ name: "runpod", active: 0, failures: 1, lastFailureAt: now - 1 }, healthy("fly")], now });
    expect(d.assign).toEqual([{ provider: "fly", count: 4 }]);
    expect(d.backoffUntil).toBeNull();
  });

  it("after the back-off, one trial machine on the first and the rest on the next", () => {
    const providers = [{ name: "runpod", active: 0, failures: 1, lastFailureAt: now - START_BACKOFF.capMs }, healthy("fly")];
    expect(plan({ pendingTasks: 4, pendingPlans: 4, providers, now }).assign).toEqual([
      { provider: "runpod", count: 1 },
      { provider: "fly", count: 3 },
    ]);
  });

  it("holds back, and says until when, only when every provider backs off", () => {
    const providers = [
      { name: "runpod", active: 0, failures: 2, lastFailureAt: now - 1 },
      { name: "fly", active: 0, failures: 1, lastFailureAt: now - 1 },
    ];
    const d = plan({ pendingTasks: 2, pendingPlans: 2, providers, now });
    expect(d.start).toBe(0);
    // The earliest of the two: fly's single failure backs off for less.
    expect(d.backoffUntil).toBe(now - 1 + 7_500);
  });

  it("forgets a provider's failures long after the last one", () => {
    const old = { name: "runpod", active: 0, failures: 3, lastFailureAt: now - FAILURE_MEMORY_MS };
    expect(assignStarts(5, [old, healthy("fly")], now).assign).toEqual([{ provider: "runpod", count: 5 }]);
  });

  it("starts nothing anywhere when the work is covered", () => {
    expect(plan({ pendingTasks: 2, pendingPlans: 2, providers: [healthy("runpod", 1), healthy("fly", 1)], now }).assign).toEqual([]);
  });
});
