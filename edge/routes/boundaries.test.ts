import { describe, expect, it } from "vitest";
import type { Task } from "../../shared/protocol.ts";
import { getJob, submit } from "../test-helpers.ts";
import { seg } from "../job/job-fixtures.ts";
import { claimFor, media, post } from "./machine-test-helpers.ts";

type RangeTask = Extract<Task, { kind: "range" }>;

/** A job planned from its duration alone: four ranges whose inner boundaries range tasks settle. */
async function quickPlanned(): Promise<{ id: string; ranges: RangeTask[] }> {
  const { id } = await submit({});
  const plan = await claimFor(id, "plan");
  const ranges = [0, 300, 600, 900, 1200].slice(1).map((end, i) => ({ start_sec: i * 300, end_sec: end }));
  const done = await post(plan, "complete", { machine_sec: 0.4, plan: { duration_sec: 1200, ranges, media, unsettled_search_sec: 5 } });
  expect(done.status).toBe(200);
  const tasks: RangeTask[] = [];
  for (let i = 0; i < 4; i++) tasks.push((await claimFor(id, "range")) as RangeTask);
  return { id, ranges: tasks.sort((a, b) => a.range_index - b.range_index) };
}

async function settle(t: RangeTask, proposal: { start_sec?: number; end_sec?: number }, attempt = t.attempt): Promise<Response> {
  return post({ ...t, attempt }, "boundaries", proposal);
}

describe("boundaries settled by range tasks", () => {
  it("tells each range which edges to settle, keeps the first proposal for each boundary, and the ranges still tile", async () => {
    const {
      id,
      ranges: [r0, r1, r2, r3],
    } = await quickPlanned();
    expect(r0!.settle).toEqual({ start: false, end: true, search_sec: 5 });
    expect(r1!.settle).toEqual({ start: true, end: true, search_sec: 5 });
    expect(r3!.settle).toEqual({ start: true, end: false, search_sec: 5 });

    // Range 1 proposes both of its edges first; range 0's later proposal for their shared one loses.
    expect(await (await settle(r1!, { start_sec: 302.5, end_sec: 597.25 })).json()).toEqual({ start_sec: 302.5, end_sec: 597.25 });
    expect(await (await settle(r0!, { end_sec: 299 })).json()).toEqual({ start_sec: 0, end_sec: 302.5 });
    // Out of reach (9 s from where it fell): settled where it fell instead.
    expect(await (await settle(r3!, { start_sec: 891 })).json()).toEqual({ start_sec: 900, end_sec: 1200 });
    expect(await (await settle(r2!, { start_sec: 600, end_sec: 904 })).json()).toEqual({ start_sec: 597.25, end_sec: 900 });
    // An attempt that no longer holds its range settles nothing.
    expect((await settle(r2!, { start_sec: 601 }, r2!.attempt + 1)).status).toBe(409);

    // A range leased again after its edges settled is told nothing is left to settle.
    expect((await post(r1!, "fail", { retryable: true, code: "machine_shutdown", message: "SIGTERM" })).status).toBe(200);
    const again = (await claimFor(id, "range")) as RangeTask;
    expect(again).toMatchObject({ range_index: 1, start_sec: 302.5, end_sec: 597.25 });
    expect(again.settle).toBeUndefined();

    // Segments are kept within the settled edges, and the ranges cover the recording exactly once.
    const job = await getJob(id);
    expect(job.progress.audio_sec_total).toBe(1200);
  });

  it("a plan that settled its own boundaries hands out ranges with nothing to settle", async () => {
    const { id } = await submit({});
    const plan = await claimFor(id, "plan");
    await post(plan, "complete", {
      machine_sec: 1,
      plan: {
        duration_sec: 600,
        ranges: [
          { start_sec: 0, end_sec: 301 },
          { start_sec: 301, end_sec: 600 },
        ],
        media,
      },
    });
    const range = (await claimFor(id, "range")) as RangeTask;
    expect(range.settle).toBeUndefined();
    expect((await settle(range, { end_sec: 299 })).status).toBe(200); // harmless: nothing moves
    expect((await getJob(id)).progress.audio_sec_total).toBe(600);
  });

  it("a range that posts before settling (a machine from before settle) keeps its edges where they fell, for its neighbours too", async () => {
    const {
      ranges: [, r1, r2],
    } = await quickPlanned();
    // Range 1's machine ignores `settle` and posts at once.
    expect((await post(r1!, "segments", { seq: 0, segments: [seg(300.5, 304, "early words")], audio_sec_done: 4 })).status).toBe(200);
    // Range 2 proposes a quiet point for the boundary range 1 already transcribed up to: it stays put.
    expect(await (await settle(r2!, { start_sec: 597, end_sec: 902 })).json()).toEqual({ start_sec: 600, end_sec: 902 });
  });
});
