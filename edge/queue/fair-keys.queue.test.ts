import { describe, expect, it } from "vitest";
import { claim } from "../routes/machine-test-helpers.ts";
import { KEY_A, KEY_B, reportRow, submit } from "../test-helpers.ts";

// Runs in the "edge-queue" project (a queue of its own).

describe("the queue is fair between API keys, then between a key's jobs", () => {
  it("a tenant with one job is served second, not after another tenant's three", async () => {
    const mine = new Map<string, string>();
    for (let i = 0; i < 3; i++) mine.set((await submit({}, { key: KEY_A })).id, "A");
    mine.set((await submit({}, { key: KEY_B })).id, "B");
    const order: string[] = [];
    for (let i = 0; i < 20 && order.length < 4; i++) {
      for (const t of await claim(1, `m-fair-${i}`)) if (mine.has(t.job_id)) order.push(mine.get(t.job_id)!);
    }
    await reportRow({
      suite: "queue",
      case: "key A has 3 queued jobs, key B 1: the order machines get their plans",
      expected: "B within the first two",
      observed: order.join(", "),
      pass: order.slice(0, 2).includes("B"),
    });
    expect(order).toHaveLength(4);
    expect(order.slice(0, 2)).toContain("B");
  });
});
