import { describe, expect, it } from "vitest";
import { clusterUnits, type Unit } from "./unit-clusters.ts";

const A = [1, 0, 0];
const B = [0, 1, 0];
const C = [0, 0, 1];
const unit = (id: number, window: number, voice: number[], weight = 3): Unit => ({ id, window, voice, weight });
const options = { threshold: 0.5, linkBonus: 0, sameWindowPenalty: Number.POSITIVE_INFINITY };

describe("clusterUnits", () => {
  it("joins a window's voice to the speaker it sounds like, and makes a new group of a voice like none", () => {
    const anchors = [
      { speaker: 0, voice: A.map((x) => x * 10), members: [0] },
      { speaker: 1, voice: B.map((x) => x * 10), members: [1] },
    ];
    const out = clusterUnits(anchors, [unit(5, 3, [0.9, 0.1, 0]), unit(6, 3, [0.1, 0.95, 0]), unit(7, 4, C), unit(8, 5, [0, 0.1, 0.9])], [], options);
    expect(Object.fromEntries(out)).toEqual({ 5: { anchor: 0 }, 6: { anchor: 1 }, 7: { group: 0 }, 8: { group: 0 } });
  });

  it("never puts two voices of one window together, however alike", () => {
    const out = clusterUnits([], [unit(0, 0, A), unit(1, 0, [0.99, 0.1, 0]), unit(2, 1, A)], [], options);
    expect(out.get(0)).not.toEqual(out.get(1));
    // The third, from another window, joins one of them.
    expect([out.get(0), out.get(1)]).toContainEqual(out.get(2));
  });

  it("never joins two speakers already decided", () => {
    const anchors = [
      { speaker: 0, voice: A, members: [] },
      { speaker: 1, voice: A, members: [] },
    ];
    const out = clusterUnits(anchors, [unit(3, 2, A)], [], options);
    expect(out.get(3)).toEqual({ anchor: 0 });
  });

  it("leaves voices below the threshold apart, and a link between windows tips a close call", () => {
    const v = [0.7, 0.71, 0];
    const norm = Math.hypot(...v);
    const near = v.map((x) => x / norm);
    const units = [unit(0, 0, A), unit(1, 1, near)];
    // cos(A, near) ≈ 0.70
    expect(
      new Set(
        [...clusterUnits([], units, [], { threshold: 0.75, linkBonus: 0, sameWindowPenalty: Number.POSITIVE_INFINITY }).values()].map((a) => JSON.stringify(a)),
      ).size,
    ).toBe(2);
    const linked = clusterUnits([], units, [[1, 0]], { threshold: 0.75, linkBonus: 0.1, sameWindowPenalty: Number.POSITIVE_INFINITY });
    expect(linked.get(0)).toEqual(linked.get(1));
  });

  it("weights a centroid by seconds of speech", () => {
    // P and Q join first (cosine 0.8). R is 0.73 from P and from Q, but 0.77 from their unweighted mean:
    // it joins them only when Q's second counts as much as P's thirty.
    const r = [0.73, 0.243, 0.639];
    const units = (qWeight: number) => [unit(0, 0, A, 30), unit(1, 1, [0.8, 0.6, 0], qWeight), unit(2, 2, r, 1)];
    const weighted = clusterUnits([], units(1), [], { threshold: 0.75, linkBonus: 0, sameWindowPenalty: Number.POSITIVE_INFINITY });
    expect(weighted.get(1)).toEqual(weighted.get(0));
    expect(weighted.get(2)).not.toEqual(weighted.get(0));
    const even = clusterUnits([], units(30), [], { threshold: 0.75, linkBonus: 0, sameWindowPenalty: Number.POSITIVE_INFINITY });
    expect(new Set([...even.values()].map((a) => JSON.stringify(a))).size).toBe(1);
  });
});
