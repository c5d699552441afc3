import { env, runInDurableObject } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { TranscriptionJob, WebhookPayload } from "../../shared/api.ts";
import { TEST_WEBHOOK_SIGNING_KEY } from "../../test/support/test-secrets.ts";
import { keyIdOf } from "../../shared/ids.ts";
import { unwrap } from "../errors.ts";
import { advanceClock, drainAlarms, leaseNext, plan, runNextDeadline, seg, stubFor, waitForIdleAlarm } from "../job/job-fixtures.ts";
import { call, getJob, KEY_A, reportRow, submit } from "../test-helpers.ts";
import { WEBHOOK_TIMEOUT_MS } from "./delivery.ts";
import { deriveWebhookSecret } from "../../shared/webhook-signing.ts";
import { waitUntil } from "../../shared/sleep.ts";

interface Delivery {
  headers: Record<string, string>;
  body: string;
}

async function deliveries(path: string): Promise<Delivery[]> {
  return (await (await fetch(`http://control.test/deliveries?path=${encodeURIComponent(path)}`)).json()) as Delivery[];
}

async function completeJob(id: string): Promise<void> {
  await plan(id, [[0, 60]]);
  const task = await leaseNext(id);
  unwrap(await stubFor(id).postSegments({ range_index: 0, attempt: task.attempt, seq: 0, segments: [seg(0, 5, "hi")], audio_sec_done: 60 }));
  unwrap(await stubFor(id).completeRange(0, task.attempt, 12));
}

function hookPath(kind: string): string {
  return `/${kind}/${crypto.randomUUID()}`;
}

/** The object's own alarm delivers the first attempt; wait until it has been recorded. */
async function attemptsReach(id: string, n: number): Promise<void> {
  await waitUntil(async () => ((await getJob(id)).webhook?.attempts ?? 0) >= n, { timeoutMs: 10_000, intervalMs: 10 });
}

describe("webhooks", () => {
  it("signs the completed event so that a Standard Webhooks receiver verifies it", async () => {
    const path = hookPath("ok");
    const { id } = await submit({ webhook_url: `https://hooks.test${path}` });
    await completeJob(id);
    // Delivery runs from the alarm, which may already fire while the completing call
    // awaits the queue notice; either way it is sent exactly once.
    await drainAlarms(id);
    const [delivery, ...rest] = await deliveries(path);
    expect(rest).toEqual([]);
    const secret = await deriveWebhookSecret(TEST_WEBHOOK_SIGNING_KEY, await keyIdOf(KEY_A));
    const verified = new Webhook(secret).verify(delivery!.body, delivery!.headers) as WebhookPayload;
    expect(verified.type).toBe("transcription.completed");
    expect(verified.id).toBe(delivery!.headers["webhook-id"]);
    expect(verified.data.id).toBe(id);
    expect(verified.data.status).toBe("completed");
    // A wrong secret or a changed body fails verification.
    const other = await deriveWebhookSecret(TEST_WEBHOOK_SIGNING_KEY, "key_someone_else");
    expect(() => new Webhook(other).verify(delivery!.body, delivery!.headers)).toThrow();
    expect(() => new Webhook(secret).verify(delivery!.body.replace("completed", "failed"), delivery!.headers)).toThrow();

    const job = await getJob(id);
    expect(job.webhook).toMatchObject({ url: `https://hooks.test${path}`, last_delivery_status: "delivered", last_response_status: 200, attempts: 1 });
  });

  /** A row of reports/reliability.md, recorded through the fake internet (workerd has no files). */
  const report = (name: string, expected: string, observed: string, pass: boolean) =>
    reportRow({ suite: "webhook receivers", case: name, expected, observed, pass });

  it("retries a receiver that hangs past the timeout, and delivers once it answers", { timeout: 60_000 }, async () => {
    const path = hookPath(`hang-first/1/${WEBHOOK_TIMEOUT_MS + 1500}`);
    const { id } = await submit({ webhook_url: `https://hooks.test${path}` });
    await completeJob(id);
    await attemptsReach(id, 1);
    const first = (await getJob(id)).webhook!;
    await drainAlarms(id);
    const after = (await getJob(id)).webhook!;
    const got = await deliveries(path);
    const ids = new Set(got.map((d) => d.headers["webhook-id"]));
    await report(
      "receiver hangs past the 10 s timeout once",
      "retried, then delivered, one event id",
      `attempt 1: ${first.last_error ?? first.last_delivery_status}; then ${after.last_delivery_status} after ${after.attempts} attempts, ${ids.size} id`,
      after.last_delivery_status === "delivered" && ids.size === 1,
    );
    expect(first.last_error).toContain("no answer within");
    expect(after).toMatchObject({ last_delivery_status: "delivered", attempts: 2 });
    expect(ids.size).toBe(1);
  });

  it("retries a receiver that fails three times, with the same webhook-id", async () => {
    const path = hookPath("fail/3/503");
    const { id } = await submit({ webhook_url: `https://hooks.test${path}` });
    await completeJob(id);
    // The first attempt is due at once; once it has failed, the retry waits.
    await attemptsReach(id, 1);
    const idle = await waitForIdleAlarm(id);
    expect(idle.alarm! - Date.now()).toBeGreaterThan(10_000);
    expect((await getJob(id)).webhook).toMatchObject({ last_delivery_status: "retrying", last_response_status: 503, attempts: 1 });
    expect((await getJob(id)).webhook!.last_error).toContain("503");
    expect(await runNextDeadline(id)).toBe(true);
    expect((await getJob(id)).webhook).toMatchObject({ last_delivery_status: "retrying", attempts: 2 });
    await drainAlarms(id);
    expect((await getJob(id)).webhook).toMatchObject({ last_delivery_status: "delivered", last_response_status: 200, attempts: 4 });
    const got = await deliveries(path);
    expect(got).toHaveLength(4);
    expect(new Set(got.map((d) => d.headers["webhook-id"])).size).toBe(1);
    expect(new Set(got.map((d) => d.body)).size).toBe(1);
    const attempts = (await getJob(id)).webhook!.recent_attempts;
    expect(attempts.map((a) => [a.type, a.attempt, a.response_status])).toEqual([
      ["completed", 4, 200],
      ["completed", 3, 503],
      ["completed", 2, 503],
      ["completed", 1, 503],
    ]);
    expect(attempts[1]!.error).toContain("503");
    await report(
      "receiver down (503) for the first 3 attempts",
      "delivered on attempt 4, same event id",
      `delivered after ${got.length} attempts, ${new Set(got.map((d) => d.headers["webhook-id"])).size} id`,
      got.length === 4,
    );
  });

  it("spaces retries with growing, jittered delays and honours Retry-After", async () => {
    const path = hookPath("retry-after/7200");
    const { id } = await submit({ webhook_url: `https://hooks.test${path}` });
    await completeJob(id);
    await attemptsReach(id, 1);
    const { alarm } = await waitForIdleAlarm(id);
    expect(alarm! - Date.now()).toBeGreaterThanOrEqual(7200_000 - 5_000);
    await drainAlarms(id);
    expect(await deliveries(path)).toHaveLength(2);
  });

  it("stops at once on 410 Gone and records it", async () => {
    const path = hookPath("status/410");
    const { id } = await submit({ webhook_url: `https://hooks.test${path}` });
    await completeJob(id);
    await drainAlarms(id);
    expect(await deliveries(path)).toHaveLength(1);
    expect((await getJob(id)).webhook).toMatchObject({ last_delivery_status: "failed", last_response_status: 410, attempts: 1 });
    const [sent, recorded] = [(await deliveries(path)).length, (await getJob(id)).webhook!.last_delivery_status];
    await report("receiver answers 410 Gone", "no more attempts, recorded as failed", `${sent} attempt, ${recorded}`, sent === 1 && recorded === "failed");
  });

  it("keeps retrying a receiver that answers 500 for at least 24 hours, then gives up", async () => {
    const path = hookPath("status/500");
    const { id } = await submit({ webhook_url: `https://hooks.test${path}` });
    await completeJob(id);
    const runs = await drainAlarms(id, 100);
    expect(runs).toBeLessThan(100);
    const row = await runInDurableObject(env.JOBS.get(env.JOBS.idFromName(id)), (_o, state) =>
      state.storage.sql
        .exec<{ first_attempt_at: number; last_attempt_at: number; attempts: number; state: string }>(
          "SELECT first_attempt_at, last_attempt_at, attempts, state FROM webhook_events",
        )
        .one(),
    );
    expect(row.state).toBe("failed");
    expect(row.last_attempt_at - row.first_attempt_at).toBeGreaterThanOrEqual(24 * 3600_000);
    expect(row.attempts).toBe((await deliveries(path)).length);
    expect((await getJob(id)).webhook).toMatchObject({ last_delivery_status: "failed", last_response_status: 500 });
    await report(
      "receiver answers 500 forever",
      "retried for ≥ 24 h, then failed",
      `${row.attempts} attempts over ${((row.last_attempt_at - row.first_attempt_at) / 3600_000).toFixed(1)} h, then ${row.state}`,
      row.state === "failed" && row.last_attempt_at - row.first_attempt_at >= 24 * 3600_000,
    );
  });

  it("sends canceled and failed events too", async () => {
    const cancelPath = hookPath("ok");
    const a = await submit({ webhook_url: `https://hooks.test${cancelPath}` });
    await call("POST", `/v1/transcriptions/${a.id}/cancel`);
    await drainAlarms(a.id);
    expect((JSON.parse((await deliveries(cancelPath))[0]!.body) as WebhookPayload).type).toBe("transcription.canceled");

    const failPath = hookPath("ok");
    const b = await submit({ webhook_url: `https://hooks.test${failPath}` });
    await plan(b.id, [[0, 60]]);
    const task = await leaseNext(b.id);
    unwrap(await stubFor(b.id).failRange(0, task.attempt, { retryable: false, code: "decode_error", message: "bad frame" }));
    await drainAlarms(b.id);
    const payload = JSON.parse((await deliveries(failPath))[0]!.body) as WebhookPayload;
    expect(payload.type).toBe("transcription.failed");
    expect((payload.data as TranscriptionJob).error?.code).toBe("decode_error");
  });

  it("sends progress events only when asked, at most once a minute", async () => {
    const path = hookPath("ok");
    const { id } = await submit({ webhook_url: `https://hooks.test${path}`, webhook_events: ["progress"] });
    await plan(id, [[0, 60]]);
    const task = await leaseNext(id);
    for (let seq = 0; seq < 5; seq++) {
      unwrap(await stubFor(id).postSegments({ range_index: 0, attempt: task.attempt, seq, segments: [seg(seq, seq + 1, "w")], audio_sec_done: seq + 1 }));
    }
    unwrap(await stubFor(id).completeRange(0, task.attempt, 3));
    await drainAlarms(id);
    const types = (await deliveries(path)).map((d) => (JSON.parse(d.body) as WebhookPayload).type);
    expect(types).toEqual(["transcription.progress", "transcription.completed"]);

    const quiet = hookPath("ok");
    const other = await submit({ webhook_url: `https://hooks.test${quiet}` });
    await completeJob(other.id);
    await drainAlarms(other.id);
    expect((await deliveries(quiet)).map((d) => (JSON.parse(d.body) as WebhookPayload).type)).toEqual(["transcription.completed"]);
  });

  it("coalesces progress to the newest and never delivers progress after the final event", async () => {
    // The receiver fails its first three attempts: progress piles up while it is down.
    const path = hookPath("fail/3/503");
    const { id } = await submit({ webhook_url: `https://hooks.test${path}`, webhook_events: ["progress"] });
    await plan(id, [[0, 300]]);
    const task = await leaseNext(id);
    const waiting: number[] = [];
    for (let seq = 0; seq < 4; seq++) {
      unwrap(await stubFor(id).postSegments({ range_index: 0, attempt: task.attempt, seq, segments: [seg(seq, seq + 1, "w")], audio_sec_done: seq + 1 }));
      await runNextDeadline(id); // a delivery attempt fails
      waiting.push(await pendingProgress(id));
      await advanceClock(id, 61_000); // progress may be sent again
      unwrap(await stubFor(id).heartbeatRange(0, task.attempt, 600)); // the machine is alive meanwhile
    }
    unwrap(await stubFor(id).completeRange(0, task.attempt, 3));
    await drainAlarms(id);
    const types = (await deliveries(path)).map((d) => (JSON.parse(d.body) as WebhookPayload).type);
    const afterFinal = types.slice(types.indexOf("transcription.completed") + 1).filter((t) => t === "transcription.progress").length;
    await reportRow({
      suite: "webhooks",
      case: "receiver down while four progress events and the final one are written",
      expected: "≤ 1 progress waiting at a time; none delivered after completed",
      observed: `waiting ${waiting.join(",")}; ${afterFinal} progress after completed (${types.length} attempts)`,
      pass: Math.max(...waiting) <= 1 && afterFinal === 0 && types.includes("transcription.completed"),
    });
    expect(Math.max(...waiting)).toBeLessThanOrEqual(1);
    expect(types).toContain("transcription.completed");
    expect(afterFinal).toBe(0);
    expect(types.at(-1)).toBe("transcription.completed");
  });

  it("a job deleted while its alarm awaits a receiver leaves no alarm and no error behind", async () => {
    const path = hookPath("hang-first/1/1500");
    const { id } = await submit({ webhook_url: `https://hooks.test${path}` });
    // An hour ahead, the delivery is due only for this test's own alarm run, not the runtime's.
    await advanceClock(id, 3_600_000);
    await completeJob(id);
    const delivering = runNextDeadline(id).catch((error: unknown) => error);
    await waitUntil(async () => (await deliveries(path)).length > 0, { timeoutMs: 5_000, intervalMs: 20 });
    expect((await call("DELETE", `/v1/transcriptions/${id}`)).status).toBe(204);
    const outcome = await delivering;
    const left = await runInDurableObject(env.JOBS.get(env.JOBS.idFromName(id)), async (_o, state) => ({
      tables: state.storage.sql.exec("SELECT name FROM sqlite_master").toArray().length,
      alarm: await state.storage.getAlarm(),
    }));
    await reportRow({
      suite: "webhooks",
      case: "the job is deleted while a delivery is in flight",
      expected: "the alarm ends quietly; no tables, no alarm left",
      observed: `${outcome instanceof Error ? `alarm threw: ${outcome.message.slice(0, 80)}` : "alarm ended"}; tables ${left.tables}, alarm ${left.alarm === null ? "none" : "set"}`,
      pass: !(outcome instanceof Error) && left.tables === 0 && left.alarm === null,
    });
    expect(outcome instanceof Error ? outcome.message : "no error").toBe("no error");
    expect(left).toEqual({ tables: 0, alarm: null });
  });
});

async function pendingProgress(id: string): Promise<number> {
  return runInDurableObject(
    env.JOBS.get(env.JOBS.idFromName(id)),
    (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_events WHERE type = 'progress' AND state = 'pending'").one().n,
  );
}
