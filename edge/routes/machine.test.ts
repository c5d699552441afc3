import { describe, expect, it } from "vitest";
import { keyIdOf, newId } from "../../shared/ids.ts";
import { createStoredJob, seg } from "../job/job-fixtures.ts";
import { call, expectError, getJob, KEY_A, reportRow, submit } from "../test-helpers.ts";
import { claim, claimed, claimFor, media, planned, post } from "./machine-test-helpers.ts";

describe("machine protocol", () => {
  // Refusals (no or wrong machine token, garbled, forged, replayed or foreign
  // task tokens, bad claim bodies) are rows of the bad-input matrix in bad-input.test.ts.

  it("plan, ranges, segments and completion make a transcript", async () => {
    const { id, plan } = await planned([
      [0, 60],
      [60, 120],
    ]);
    expect(plan).toMatchObject({ kind: "plan", job_id: id, attempt: 1, media_url: "https://media.test/audio.mp3", lease_sec: 60 });
    expect(plan.task_token).toMatch(/^tt1\./);
    const r0 = await claimFor(id, "range");
    const r1 = await claimFor(id, "range");
    expect([r0, r1].map((t) => t.kind === "range" && t.range_index).sort()).toEqual([0, 1]);
    expect(r0).toMatchObject({ media, language: null });
    const [first, second] = r0.kind === "range" && r0.range_index === 0 ? [r0, r1] : [r1, r0];

    // Posts arrive out of order and one is repeated: the transcript is ordered and has each segment once.
    expect((await post(second!, "segments", { seq: 0, segments: [seg(61, 65, "third")], audio_sec_done: 60 })).status).toBe(200);
    expect((await post(first!, "segments", { seq: 1, segments: [seg(31, 40, "second")], audio_sec_done: 60, language_sec: { en: 9 } })).status).toBe(200);
    expect((await post(first!, "segments", { seq: 0, segments: [seg(1, 5, "first")], audio_sec_done: 30, language_sec: { en: 4 } })).status).toBe(200);
    const again = await post(first!, "segments", { seq: 0, segments: [seg(1, 5, "first")], audio_sec_done: 30 });
    expect(await again.json()).toEqual({ status: "duplicate" });
    const beat = await post(first!, "heartbeat", {});
    expect(await beat.json()).toMatchObject({ continue: true, lease_until: expect.any(Number) });
    expect((await post(first!, "complete", { machine_sec: 20 })).status).toBe(200);
    expect((await post(second!, "complete", { machine_sec: 21 })).status).toBe(200);
    const job = await getJob(id);
    expect(job.status).toBe("completed");
    const text = await (await call("GET", `/v1/transcriptions/${id}/transcript?format=text`)).text();
    expect(text.trim()).toBe("first second third");
    await reportRow({
      suite: "machine posts",
      case: "duplicate and reordered segment posts",
      expected: "each segment once, in time order",
      observed: `"${text.trim()}"`,
      pass: text.trim() === "first second third",
    });
  });

  it("a job's prompt, task and temperature are kept in its options and sent with its plan and range tasks", async () => {
    const asked = { prompt: "Kubernetes, kubectl and etcd.", task: "translate", temperature: 0.4 };
    const { id } = await submit({ language: "de", ...asked });
    expect((await getJob(id)).options).toEqual({ language: "de", macro_chunk_sec: 300, micro_chunk_sec: 30, word_timestamps: false, ...asked });
    const plan = await claimFor(id, "plan");
    expect(plan.options).toMatchObject(asked);
    const done = await post(plan, "complete", { machine_sec: 1, plan: { duration_sec: 60, ranges: [{ start_sec: 0, end_sec: 60 }], media } });
    expect(done.status).toBe(200);
    expect((await claimFor(id, "range")).options).toMatchObject(asked);
    // Without them: transcribe at temperature 0, no prompt.
    const plain = await submit({});
    const defaults = { language: "auto", macro_chunk_sec: 300, micro_chunk_sec: 30, word_timestamps: false, task: "transcribe", temperature: 0 };
    expect((await getJob(plain.id)).options).toEqual(defaults);
    // A job stored before these options existed reads as the defaults.
    const old = newId("tr");
    await createStoredJob(old, await keyIdOf(KEY_A));
    expect((await getJob(old)).options).toEqual(defaults);
  });

  it("after a failed attempt the next one gets a new token and the old one is refused", async () => {
    const { id } = await planned([[0, 60]]);
    const first = await claimFor(id, "range");
    expect((await post(first, "segments", { seq: 0, segments: [seg(1, 2, "lost")], audio_sec_done: 10 })).status).toBe(200);
    expect((await post(first, "fail", { retryable: true, code: "origin_failed", message: "media server hiccup" })).status).toBe(200);
    const second = await claimFor(id, "range");
    expect(second.attempt).toBe(2);
    expect(second.task_token).not.toBe(first.task_token);
    await expectError(await post(first, "segments", { seq: 1, segments: [seg(3, 4, "stale")], audio_sec_done: 20 }), 409, "stale_attempt");
    expect((await post(second, "segments", { seq: 0, segments: [seg(5, 6, "kept")], audio_sec_done: 60 })).status).toBe(200);
    expect((await post(second, "complete", { machine_sec: 3 })).status).toBe(200);
    const kept = (await (await call("GET", `/v1/transcriptions/${id}/transcript?format=text`)).text()).trim();
    expect(kept).toBe("kept");
    await reportRow({
      suite: "machine posts",
      case: "posts from a superseded attempt",
      expected: "409 stale_attempt; the attempt's segments never reach the transcript",
      observed: `409 stale_attempt; transcript "${kept}"`,
      pass: kept === "kept",
    });
  });

  it("a canceled job tells its machine to stop at the next heartbeat", async () => {
    const { id } = await planned([[0, 60]]);
    const task = await claimFor(id, "range");
    expect((await call("POST", `/v1/transcriptions/${id}/cancel`)).status).toBe(200);
    expect(await (await post(task, "heartbeat", {})).json()).toEqual({ continue: false, reason: "canceled" });
  });

  it("jobs take turns: a one-range job is served before a 6-range job is drained", async () => {
    const big = await planned([
      [0, 60],
      [60, 120],
      [120, 180],
      [180, 240],
      [240, 300],
      [300, 360],
    ]);
    const small = await planned([[0, 60]]);
    const order: string[] = [];
    for (let i = 0; i < 7; i++) {
      const [t] = await claim(1);
      if (!t) break;
      order.push(t.job_id === small.id ? "small" : t.job_id === big.id ? "big" : "other");
    }
    expect(order.indexOf("small")).toBeGreaterThanOrEqual(0);
    expect(order.indexOf("small")).toBeLessThanOrEqual(2);
  });

  it("with language auto, a range that came out in another language is redone with the job's language", async () => {
    const { id } = await planned([
      [0, 60],
      [60, 120],
      [120, 180],
    ]);
    const ranges = [await claimFor(id, "range"), await claimFor(id, "range"), await claimFor(id, "range")];
    const byIndex = ranges.sort((a, b) => (a.kind === "range" && b.kind === "range" ? a.range_index - b.range_index : 0));
    const speech = [{ en: 50 }, { en: 55 }, { nn: 12 }];
    for (const [i, t] of byIndex.entries()) {
      const language = Object.keys(speech[i]!)[0]!;
      expect(
        (await post(t, "segments", { seq: 0, segments: [seg(i * 60 + 1, i * 60 + 5, `part ${i}`, language)], audio_sec_done: 60, language_sec: speech[i] }))
          .status,
      ).toBe(200);
      expect((await post(t, "complete", { machine_sec: 5 })).status).toBe(200);
    }
    expect((await getJob(id)).status).toBe("running");
    const redo = await claimFor(id, "range");
    expect(redo).toMatchObject({ range_index: 2, attempt: 2, language: "en" });
    expect((await post(redo, "segments", { seq: 0, segments: [seg(121, 125, "part two again")], audio_sec_done: 60, language_sec: { en: 12 } })).status).toBe(
      200,
    );
    expect((await post(redo, "complete", { machine_sec: 5 })).status).toBe(200);
    expect((await getJob(id)).status).toBe("completed");
    const text = await (await call("GET", `/v1/transcriptions/${id}/transcript?format=text`)).text();
    expect(text.trim()).toBe("part 0 part 1 part two again");
  });

  it("sustains claims from one queue object (rate printed for the README, not asserted)", async () => {
    const jobs: Array<{ id: string }> = [];
    for (let j = 0; j < 10; j++) jobs.push(await planned(Array.from({ length: 10 }, (_, i): [number, number] => [i * 60, (i + 1) * 60])));
    const ids = new Set(jobs.map((j) => j.id));
    // Planning claimed with capacity 4, so some ranges were handed out already.
    let got = claimed.splice(0).filter((t) => ids.has(t.job_id) && t.kind === "range").length;
    const early = got;
    const started = Date.now();
    for (let i = 0; i < 300 && got < 100; i++) {
      const tasks = await claim(1, `m-${i % 4}`);
      if (tasks.length === 0) break;
      got += tasks.filter((t) => ids.has(t.job_id)).length;
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `queue: ${got - early} range claims in ${seconds.toFixed(2)} s = ${((got - early) / seconds).toFixed(0)} claims/s through the Worker (local workerd, one claim at a time)`,
    );
    expect(got).toBe(100);
  });
});
