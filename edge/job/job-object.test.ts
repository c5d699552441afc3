import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TranscriptionJob } from "../../shared/api.ts";
import { mergeBatches, type SegmentBatch } from "../../shared/merge.ts";
import { unwrap } from "../errors.ts";
import { call, getJob, reportRow, submit } from "../test-helpers.ts";
import { advanceClock, leaseNext, plan, runNextDeadline, seg, stubFor } from "./job-fixtures.ts";

async function transcriptJson(id: string, partial = false) {
  const r = await call("GET", `/v1/transcriptions/${id}/transcript?format=json${partial ? "&partial=true" : ""}`);
  expect(r.status).toBe(200);
  return (await r.json()) as {
    text: string;
    language: string;
    segments: Array<{ start_sec: number; end_sec: number; text: string }>;
    audio_duration_sec: number;
  };
}

describe("a job from plan to transcript", () => {
  it("merges posts in any order, ignores duplicates and completes", async () => {
    const { id } = await submit({});
    const stub = stubFor(id);
    await plan(id, [
      [0, 300],
      [300, 600],
      [600, 700.5],
    ]);
    expect((await getJob(id)).status).toBe("running");
    const tasks = [await leaseNext(id, "m-a"), await leaseNext(id, "m-b"), await leaseNext(id, "m-c")];
    expect(tasks.map((t) => [t.range_index, t.attempt, t.start_sec, t.end_sec])).toEqual([
      [0, 1, 0, 300],
      [1, 1, 300, 600],
      [2, 1, 600, 700.5],
    ]);
    expect(unwrap(await stub.leaseRange("m-d", 60))).toBeNull();

    const batches: SegmentBatch[] = [
      { range_index: 2, attempt: 1, seq: 0, segments: [seg(600.2, 640, " Third range"), seg(641, 700.9, " ends past its range")] },
      { range_index: 0, attempt: 1, seq: 1, segments: [seg(150, 299.5, " second post of range zero")] },
      { range_index: 1, attempt: 1, seq: 0, segments: [seg(300.5, 420, " middle")] },
      { range_index: 0, attempt: 1, seq: 0, segments: [seg(0, 10, " Hello"), seg(10, 149, " world")] },
    ];
    for (const b of batches) {
      expect(unwrap(await stub.postSegments({ ...b, segments: [...b.segments], audio_sec_done: 10 })).status).toBe("accepted");
    }
    // A re-sent post changes nothing, even with other content.
    const dup = unwrap(await stub.postSegments({ range_index: 0, attempt: 1, seq: 0, segments: [seg(1, 2, "DIFFERENT")], audio_sec_done: 10 }));
    expect(dup.status).toBe("duplicate");

    const partial = await transcriptJson(id, true);
    expect(partial.segments).toHaveLength(6);

    for (const t of tasks) unwrap(await stub.completeRange(t.range_index, t.attempt, 30));
    const job = await getJob(id);
    expect(job.status).toBe("completed");
    expect(job.progress).toMatchObject({ audio_sec_done: 700.5, audio_sec_total: 700.5, ranges_done: 3, ranges_total: 3 });
    expect(job.audio_duration_sec).toBe(700.5);
    expect(job.usage?.machine_sec).toBe(92);
    expect(job.usage?.cost_usd).toBeCloseTo((92 / 3600) * 2.5, 6);

    const ranges = tasks.map((t) => ({ index: t.range_index, start_sec: t.start_sec, end_sec: t.end_sec, attempt: 1, open: false }));
    const expected = mergeBatches(ranges, batches);
    const transcript = await transcriptJson(id);
    expect(transcript.segments.map((s) => [s.start_sec, s.end_sec, s.text])).toEqual(expected.map((s) => [s.start_sec, s.end_sec, s.text.trim()]));
    expect(transcript.segments.at(-1)!.end_sec).toBe(700.5); // clamped to its range
    expect(transcript.text).toBe("Hello world second post of range zero middle Third range ends past its range");
    expect(transcript.language).toBe("en");
    expect(transcript.audio_duration_sec).toBe(700.5);

    const text = await call("GET", `/v1/transcriptions/${id}/transcript?format=text`);
    expect(text.headers.get("content-type")).toContain("text/plain");
    expect(await text.text()).toBe(`${transcript.text}\n`);
    const verbose = (await (await call("GET", `/v1/transcriptions/${id}/transcript?format=verbose_json`)).json()) as Record<string, unknown>;
    expect(verbose.usage).toMatchObject({ machine_sec: 92 });
    expect((verbose.segments as Array<Record<string, unknown>>)[0]).toMatchObject({ avg_logprob: -0.2, no_speech_prob: 0.01, bcp47: "en" });
    const srt = new TextDecoder().decode(await (await call("GET", `/v1/transcriptions/${id}/transcript?format=srt`)).arrayBuffer());
    expect(srt.startsWith("1\n00:00:00,000 --> 00:00:10,000\nHello\n\n2\n")).toBe(true);

    // Posts after completion are refused, except re-sends of what was stored.
    const late = await stub.postSegments({ range_index: 1, attempt: 1, seq: 5, segments: [seg(301, 302, "late")], audio_sec_done: 300 });
    expect(late.ok ? "ok" : late.error.code).toBe("range_closed");
  });

  it("completes a recording with nothing to transcribe at once", async () => {
    const { id } = await submit({});
    await plan(id, []);
    const job = await getJob(id);
    expect(job.status).toBe("completed");
    expect((await transcriptJson(id)).segments).toEqual([]);
  });

  it("refuses plans that do not tile the recording, and stale plan attempts", async () => {
    const { id } = await submit({});
    const stub = stubFor(id);
    const task = unwrap(await stub.startPlan("p", 60));
    const gap = await stub.submitPlan(
      task.attempt,
      600,
      [
        { start_sec: 0, end_sec: 300 },
        { start_sec: 310, end_sec: 600 },
      ],
      1,
    );
    expect(gap.ok ? "ok" : gap.error.code).toBe("invalid_plan");
    const short = await stub.submitPlan(task.attempt, 900, [{ start_sec: 0, end_sec: 600 }], 1);
    expect(short.ok ? "ok" : short.error.code).toBe("invalid_plan");
    const stale = await stub.submitPlan(task.attempt + 1, 600, [{ start_sec: 0, end_sec: 600 }], 1);
    expect(stale.ok ? "ok" : stale.error.code).toBe("stale_attempt");
    const again = await stub.startPlan("p2", 60);
    expect(again.ok ? "ok" : again.error.code).toBe("not_plannable");
  });
});

describe("leases", () => {
  it("gives a range whose lease ran out to a new attempt and refuses the old one", async () => {
    const { id } = await submit({});
    const stub = stubFor(id);
    await plan(id, [
      [0, 300],
      [300, 600],
    ]);
    const first = await leaseNext(id, "m-crashes");
    unwrap(
      await stub.postSegments({ range_index: first.range_index, attempt: 1, seq: 0, segments: [seg(1, 5, "from the crashed machine")], audio_sec_done: 5 }),
    );

    // Let the lease run out: the alarm fires at lease_until.
    await runInDurableObject(env.JOBS.get(env.JOBS.idFromName(id)), async (_o, state) => {
      expect(await state.storage.getAlarm()).toBe(first.lease_until);
    });
    await expireLeases(id);

    const second = await leaseNext(id, "m-healthy");
    expect([second.range_index, second.attempt]).toEqual([first.range_index, 2]);
    // The old attempt's segments no longer count, and its posts and heartbeats are refused.
    expect((await transcriptJson(id, true)).segments).toEqual([]);
    const stale = await stub.postSegments({ range_index: 0, attempt: 1, seq: 1, segments: [seg(6, 7, "zombie")], audio_sec_done: 7 });
    expect(stale.ok ? "ok" : [stale.error.status, stale.error.code]).toEqual([409, "stale_attempt"]);
    expect(unwrap(await stub.heartbeatRange(0, 1, 60))).toEqual({ continue: false, reason: "superseded" });
    const beat = unwrap(await stub.heartbeatRange(0, 2, 60));
    expect(beat.continue).toBe(true);
    const done = await stub.completeRange(0, 1, 10);
    expect(done.ok ? "ok" : done.error.code).toBe("stale_attempt");

    unwrap(await stub.postSegments({ range_index: 0, attempt: 2, seq: 0, segments: [seg(1, 5, "from the healthy machine")], audio_sec_done: 300 }));
    expect((await transcriptJson(id, true)).segments.map((s) => s.text)).toEqual(["from the healthy machine"]);
  });

  it("fails the job with the cause after three lost attempts", async () => {
    const { id } = await submit({ webhook_url: "https://hooks.test/ok/three-strikes" });
    await plan(id, [[0, 120]]);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const task = await leaseNext(id, `m-${attempt}`);
      expect(task.attempt).toBe(attempt);
      if (attempt < 3) await expireLeases(id);
      else unwrap(await stubFor(id).failRange(0, 3, { retryable: true, code: "decode_error", message: "ffmpeg exited 1" }));
    }
    const job = await getJob(id);
    expect(job.status).toBe("failed");
    expect(job.error?.code).toBe("decode_error");
    expect(job.error?.message).toContain("ffmpeg exited 1");
    expect(unwrap(await stubFor(id).leaseRange("m-4", 60))).toBeNull();
  });

  it("fails at once on a failure the machine marks final", async () => {
    const { id } = await submit({});
    await plan(id, [
      [0, 120],
      [120, 240],
    ]);
    const task = await leaseNext(id);
    unwrap(await stubFor(id).failRange(task.range_index, task.attempt, { retryable: false, code: "unsupported_codec", message: "no decoder for codec xyz" }));
    const job = await getJob(id);
    expect([job.status, job.error?.code]).toEqual(["failed", "unsupported_codec"]);
  });

  it("an alarm that runs early expires nothing: a lease with time left stays with its machine", async () => {
    const { id } = await submit({});
    await plan(id, [[0, 300]]);
    const task = await leaseNext(id, "m-early");
    // The runtime retries a thrown alarm early, and a cleared deadline can leave the alarm
    // before the next one: either way it runs while the lease still has its 60 s.
    await runDurableObjectAlarm(env.JOBS.get(env.JOBS.idFromName(id)));
    const beat = unwrap(await stubFor(id).heartbeatRange(0, task.attempt, 60));
    await reportRow({
      suite: "job objects",
      case: "the alarm runs 60 s before a lease ends",
      expected: "the lease stays with its machine",
      observed: beat.continue ? "kept" : `lost (${beat.reason})`,
      pass: beat.continue,
    });
    expect(beat.continue).toBe(true);
    expect((await getJob(id)).progress.ranges_active).toBe(1);
  });

  it("a machine's reported machine time and language seconds are bounded by its range's audio", async () => {
    const { id } = await submit({});
    const stub = stubFor(id);
    await plan(id, [[0, 300]]);
    const task = await leaseNext(id, "m-greedy");
    const post = (seq: number, language_sec: Record<string, number>) =>
      stub.postSegments({ range_index: 0, attempt: task.attempt, seq, segments: [seg(seq + 1, seq + 2, "x")], audio_sec_done: seq + 2, language_sec });
    unwrap(await post(0, { en: 1e9 }));
    unwrap(await post(1, { de: 250 }));
    const job = unwrap(await stub.completeRange(0, task.attempt, 1e9));
    const voted = await runInDurableObject(
      env.JOBS.get(env.JOBS.idFromName(id)),
      (_o, state) => state.storage.sql.exec<{ sec: number }>("SELECT SUM(sec) AS sec FROM range_languages").one().sec,
    );
    const billed = job.usage!.machine_sec;
    await reportRow({
      suite: "job objects",
      case: "a machine reports 1e9 s of work and of English speech for a 300 s range",
      expected: "billed ≤ 10 × 300 s (+ the plan), vote ≤ 300 s",
      observed: `billed ${billed} s, vote ${voted.toFixed(1)} s`,
      pass: billed <= 3002 && voted <= 300 + 1e-6,
    });
    expect(billed).toBeLessThanOrEqual(3002);
    expect(voted).toBeLessThanOrEqual(300 + 1e-6);
  });

  it("a task past its wall-clock budget gets no more lease, however often it heartbeats", async () => {
    const { id } = await submit({});
    const stub = stubFor(id);
    await plan(id, [[0, 60]]);
    const task = await leaseNext(id, "m-endless");
    // 60 s of audio has a 15-minute budget; the machine keeps heartbeating past it.
    for (let minute = 1; minute <= 14; minute++) {
      await advanceClock(id, 60_000);
      expect(unwrap(await stub.heartbeatRange(0, task.attempt, 90)).continue).toBe(true);
    }
    await advanceClock(id, 61_000);
    const beat = unwrap(await stub.heartbeatRange(0, task.attempt, 90));
    // (Other test files' machines share the queue and may lease the range again at once.)
    const range = await runInDurableObject(env.JOBS.get(env.JOBS.idFromName(id)), (_o, state) =>
      JSON.parse(state.storage.sql.exec<{ state: string }>("SELECT state FROM ranges WHERE idx = 0").one().state),
    );
    const moved = range.attempt > task.attempt || (range.status === "pending" && range.last_error?.code === "task_timeout");
    await reportRow({
      suite: "job objects",
      case: "a machine heartbeats a 60 s range for 15 minutes",
      expected: "lease refused past the budget, the range to the next attempt",
      observed: `${beat.continue ? "renewed" : `refused (${beat.reason})`}, range ${range.status} at attempt ${range.attempt}`,
      pass: !beat.continue && moved,
    });
    expect(beat).toEqual({ continue: false, reason: "superseded" });
    expect(moved).toBe(true);
  });

  it("keeps a planner's lease alive with heartbeats and stops a superseded one", async () => {
    const { id } = await submit({});
    const stub = stubFor(id);
    const task = unwrap(await stub.startPlan("p-1", 60));
    const beat = unwrap(await stub.heartbeatPlan(task.attempt, 120));
    expect(beat.continue && beat.lease_until).toBeGreaterThan(task.lease_until);
    await runInDurableObject(env.JOBS.get(env.JOBS.idFromName(id)), async (_o, state) => {
      expect(await state.storage.getAlarm()).toBe(beat.continue ? beat.lease_until : -1);
    });
    await expireLeases(id);
    expect(unwrap(await stub.heartbeatPlan(task.attempt, 60))).toEqual({ continue: false, reason: "superseded" });
    const retry = unwrap(await stub.startPlan("p-2", 60));
    expect(retry.attempt).toBe(2);
    await call("POST", `/v1/transcriptions/${id}/cancel`);
    expect(unwrap(await stub.heartbeatPlan(2, 60))).toEqual({ continue: false, reason: "canceled" });
  });

  it("re-queues planning when the planner vanishes, three times at most", async () => {
    const { id } = await submit({});
    const stub = stubFor(id);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const task = unwrap(await stub.startPlan(`p-${attempt}`, 60));
      expect(task.attempt).toBe(attempt);
      expect((await getJob(id)).status).toBe("planning");
      await expireLeases(id);
    }
    const job = await getJob(id);
    expect([job.status, job.error?.code]).toEqual(["failed", "machine_lost"]);
  });

  it("tells machines to stop once the job is canceled", async () => {
    const { id } = await submit({});
    const stub = stubFor(id);
    await plan(id, [[0, 300]]);
    const task = await leaseNext(id);
    expect((await call("POST", `/v1/transcriptions/${id}/cancel`)).status).toBe(200);
    expect(unwrap(await stub.heartbeatRange(0, task.attempt, 60))).toEqual({ continue: false, reason: "canceled" });
    const post = await stub.postSegments({ range_index: 0, attempt: task.attempt, seq: 0, segments: [seg(1, 2, "x")], audio_sec_done: 2 });
    expect(post.ok ? "ok" : post.error.code).toBe("range_closed");
    const status = (await getJob(id)) as TranscriptionJob;
    expect(status.status).toBe("canceled");
    // Cancel after cancel is fine; cancel after completion is not.
    expect((await call("POST", `/v1/transcriptions/${id}/cancel`)).status).toBe(200);
  });
});

/** Forces the object's alarm, which here is always the lease deadline. */
/** Lets the earliest lease run out: the job's clock moves to it and the alarm runs. */
async function expireLeases(id: string) {
  expect(await runNextDeadline(id)).toBe(true);
}
