import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TranscriptionJob, TranscriptionList } from "../../shared/api.ts";
import { keyIdOf, newId } from "../../shared/ids.ts";
import { unwrap } from "../errors.ts";
import { jobStub } from "../job-stubs.ts";
import { BASE, call, expectError, getJob, KEY_A, KEY_B, reportRow, submit } from "../test-helpers.ts";
import { createStoredJob } from "../job/job-fixtures.ts";

// Refused keys, other tenants' reads and every malformed request or URL are rows
// of the bad-input matrix (bad-input.test.ts); the good paths are here.

describe("tenancy", () => {
  it("lists a job only for the key that made it", async () => {
    const job = await submit({});
    const listB = (await (await call("GET", "/v1/transcriptions?limit=100", { key: KEY_B })).json()) as TranscriptionList;
    expect(listB.data.map((j) => j.id)).not.toContain(job.id);
    expect((await getJob(job.id, KEY_A)).status).toBe("queued");
  });
});

describe("POST /v1/transcriptions", () => {
  it("accepts a job with 202 and links to its status and transcript", async () => {
    const r = await call("POST", "/v1/transcriptions", {
      body: { audio_url: "https://media.test/audio.mp3", language: "en-US", metadata: { customer: "c-1" }, macro_chunk_sec: 600 },
    });
    expect(r.status).toBe(202);
    const created = (await r.json()) as Record<string, string>;
    expect(created.id).toMatch(/^tr_[0-9a-z]{24}$/);
    expect(created.status).toBe("queued");
    expect(created.status_url).toBe(`${BASE}/v1/transcriptions/${created.id}`);
    expect(created.transcript_url).toBe(`${BASE}/v1/transcriptions/${created.id}/transcript`);
    expect(Number.isNaN(Date.parse(created.created_at!))).toBe(false);

    const job = await getJob(created.id!);
    expect(job).toMatchObject({
      id: created.id,
      status: "queued",
      created_at: created.created_at,
      options: { language: "en", macro_chunk_sec: 600, micro_chunk_sec: 30, word_timestamps: false },
      progress: { audio_sec_done: 0, audio_sec_total: 0, ranges_done: 0, ranges_total: 0 },
      metadata: { customer: "c-1" },
    });
    expect(job.error).toBeUndefined();
  });

  it("follows up to five redirects and servers that refuse HEAD", async () => {
    await submit({ audio_url: "https://media.test/redirect/5" });
    await submit({ audio_url: "https://media.test/no-head.mp3" });
  });
});

describe("Idempotency-Key", () => {
  it("returns the same job for the same key and body, and 409 for another body", async () => {
    const key = `idem-${crypto.randomUUID()}`;
    const body = { audio_url: "https://media.test/audio.mp3", language: "de" };
    const first = await call("POST", "/v1/transcriptions", { body, headers: { "idempotency-key": key } });
    expect(first.status).toBe(202);
    const a = (await first.json()) as { id: string };
    // Same request with other key order and a default spelled out.
    const second = await call("POST", "/v1/transcriptions", {
      body: { language: "de", macro_chunk_sec: 300, audio_url: body.audio_url },
      headers: { "idempotency-key": key },
    });
    expect(second.status).toBe(200);
    expect(((await second.json()) as { id: string }).id).toBe(a.id);
    await expectError(
      await call("POST", "/v1/transcriptions", { body: { ...body, language: "fr" }, headers: { "idempotency-key": key } }),
      409,
      "idempotency_conflict",
    );
    // Keys are per API key: another tenant using the same string gets its own job.
    const other = await call("POST", "/v1/transcriptions", { key: KEY_B, body, headers: { "idempotency-key": key } });
    expect(other.status).toBe(202);
    expect(((await other.json()) as { id: string }).id).not.toBe(a.id);
  });

  it("lets a corrected request reuse the key of one that was refused", async () => {
    const key = `idem-${crypto.randomUUID()}`;
    await expectError(
      await call("POST", "/v1/transcriptions", { body: { audio_url: "https://media.test/missing.mp3" }, headers: { "idempotency-key": key } }),
      422,
      "media_unreachable",
    );
    const ok = await call("POST", "/v1/transcriptions", { body: { audio_url: "https://media.test/audio.mp3" }, headers: { "idempotency-key": key } });
    expect(ok.status).toBe(202);
  });
});

describe("Idempotency-Key after a failure mid-request", () => {
  const reservation = async (key: string, set: { committed: number; ageMs: number }) => {
    const keyId = await keyIdOf(KEY_A);
    await runInDurableObject(env.KEY_INDEX.get(env.KEY_INDEX.idFromName(keyId)), (_o, state) => {
      state.storage.sql.exec("UPDATE idempotency SET committed = ?, created_at = ? WHERE key = ?", set.committed, Date.now() - set.ageMs, key);
    });
  };

  it("a reservation whose request died is taken over by a retry minutes later, which finds the same job", async () => {
    const key = `idem-${crypto.randomUUID()}`;
    const body = { audio_url: "https://media.test/audio.mp3" };
    const first = (await (await call("POST", "/v1/transcriptions", { body, headers: { "idempotency-key": key } })).json()) as { id: string };
    // As if the request had made its job, then died before committing the key.
    await reservation(key, { committed: 0, ageMs: 1_000 });
    await expectError(await call("POST", "/v1/transcriptions", { body, headers: { "idempotency-key": key } }), 409, "idempotency_in_progress");
    await reservation(key, { committed: 0, ageMs: 3 * 60_000 });
    const retry = await call("POST", "/v1/transcriptions", { body, headers: { "idempotency-key": key } });
    const again = (await retry.json()) as { id?: string; error?: { code: string } };
    await reportRow({
      suite: "bad input: API",
      case: "retry 3 min after a request that died holding its Idempotency-Key",
      expected: "accepted, the same job id",
      observed: again.id ? `${retry.status}, ${again.id === first.id ? "same job" : "another job"}` : `${retry.status} ${again.error?.code}`,
      pass: retry.ok && again.id === first.id,
    });
    expect(retry.ok).toBe(true);
    expect(again.id).toBe(first.id);
    const list = (await (await call("GET", "/v1/transcriptions?limit=100")).json()) as TranscriptionList;
    expect(list.data.filter((j) => j.id === first.id)).toHaveLength(1);
  });

  it("a job lists itself under its key as part of its own creation, whatever happens to the request", async () => {
    const id = newId("tr");
    await createStoredJob(id, await keyIdOf(KEY_A));
    const list = (await (await call("GET", "/v1/transcriptions?limit=100")).json()) as TranscriptionList;
    await reportRow({
      suite: "bad input: API",
      case: "a job made while its request is lost before the index write",
      expected: "the job is in its key's list",
      observed: list.data.some((j) => j.id === id) ? "listed" : "not listed",
      pass: list.data.some((j) => j.id === id),
    });
    expect(list.data.map((j) => j.id)).toContain(id);
    await call("POST", `/v1/transcriptions/${id}/cancel`);
  });
});

describe("list, cancel, delete", () => {
  it("lists the caller's jobs newest first with a cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await submit({}, { key: KEY_B })).id);
      await new Promise((r) => setTimeout(r, 2));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : "?limit=2";
      const page = (await (await call("GET", `/v1/transcriptions${query}`, { key: KEY_B })).json()) as TranscriptionList;
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((j) => j.id));
      cursor = page.next_cursor;
      expect(page.has_more).toBe(cursor !== null);
    } while (cursor);
    const mine = seen.filter((id) => ids.includes(id));
    expect(mine).toEqual([...ids].reverse());
    await expectError(await call("GET", "/v1/transcriptions?limit=0", { key: KEY_B }), 400, "invalid_request");
    await expectError(await call("GET", "/v1/transcriptions?limit=101", { key: KEY_B }), 400, "invalid_request");
    await expectError(await call("GET", "/v1/transcriptions?cursor=garbage", { key: KEY_B }), 400, "invalid_request");
  });

  it("cancels idempotently", async () => {
    const job = await submit({});
    const first = await call("POST", `/v1/transcriptions/${job.id}/cancel`);
    expect(first.status).toBe(200);
    expect(((await first.json()) as TranscriptionJob).status).toBe("canceled");
    const again = await call("POST", `/v1/transcriptions/${job.id}/cancel`);
    expect(again.status).toBe(200);
    const status = await getJob(job.id);
    expect(status.status).toBe("canceled");
    expect(status.completed_at).toBeDefined();
  });

  it("erases a job: later reads answer 404 and the list forgets it", async () => {
    const job = await submit({});
    const r = await call("DELETE", `/v1/transcriptions/${job.id}`);
    expect(r.status).toBe(204);
    await expectError(await call("GET", `/v1/transcriptions/${job.id}`), 404, "not_found");
    await expectError(await call("GET", `/v1/transcriptions/${job.id}/transcript`), 404, "not_found");
    await expectError(await call("DELETE", `/v1/transcriptions/${job.id}`), 404, "not_found");
    const left = await runInDurableObject(env.JOBS.get(env.JOBS.idFromName(job.id)), async (_o, state) => ({
      tables: state.storage.sql.exec("SELECT name FROM sqlite_master").toArray(),
      alarm: await state.storage.getAlarm(),
    }));
    expect(left).toEqual({ tables: [], alarm: null });
    const list = (await (await call("GET", "/v1/transcriptions?limit=100")).json()) as TranscriptionList;
    expect(list.data.map((j) => j.id)).not.toContain(job.id);
  });

  it("a delete whose index removal failed leaves no entry: its retry, or the next list, removes it", async () => {
    const indexed = async () => {
      const keyId = await keyIdOf(KEY_A);
      return runInDurableObject(env.KEY_INDEX.get(env.KEY_INDEX.idFromName(keyId)), (_o, state) =>
        state.storage.sql
          .exec<{ id: string }>("SELECT id FROM jobs")
          .toArray()
          .map((r) => r.id),
      );
    };
    // The job is erased but its index entry stays, as when the index call failed.
    const [a, b] = [await submit({}), await submit({})];
    for (const job of [a, b]) unwrap(await jobStub(env, job.id).erase(await keyIdOf(KEY_A)));
    expect(await indexed()).toEqual(expect.arrayContaining([a.id, b.id]));
    await expectError(await call("DELETE", `/v1/transcriptions/${a.id}`), 404, "not_found");
    const list = (await (await call("GET", "/v1/transcriptions?limit=100")).json()) as TranscriptionList;
    const left = (await indexed()).filter((id) => id === a.id || id === b.id);
    await reportRow({
      suite: "bad input: API",
      case: "a job erased while its list entry stayed",
      expected: "the retried DELETE and the next list remove the entry",
      observed: left.length === 0 ? "no entry left" : `entries left: ${left.length}`,
      pass: left.length === 0 && !list.data.some((j) => j.id === b.id),
    });
    expect(left).toEqual([]);
    expect(list.data.map((j) => j.id)).not.toContain(b.id);
  });

  it("stores nothing for lookups of unknown ids", async () => {
    const id = "tr_0123456789abcdefghjkmnpq";
    await expectError(await call("GET", `/v1/transcriptions/${id}`), 404, "not_found");
    await expectError(await call("POST", `/v1/transcriptions/${id}/cancel`), 404, "not_found");
    const tables = await runInDurableObject(env.JOBS.get(env.JOBS.idFromName(id)), (_o, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master").toArray(),
    );
    expect(tables).toEqual([]);
  });

  it("answers 404 for ids that cannot exist and routes that do not", async () => {
    await expectError(await call("GET", "/v1/transcriptions/tr_nope"), 404, "not_found");
    await expectError(await call("GET", "/v1/transcriptions/../../etc"), 404, "not_found");
    await expectError(await call("GET", "/v2/anything"), 404, "not_found");
  });
});

describe("GET transcript before completion", () => {
  it("answers 409 not_ready, and the merged part with partial=true", async () => {
    const job = await submit({});
    await expectError(await call("GET", `/v1/transcriptions/${job.id}/transcript`), 409, "not_ready");
    const partial = await call("GET", `/v1/transcriptions/${job.id}/transcript?partial=true&format=json`);
    expect(partial.status).toBe(200);
    expect(await partial.json()).toEqual({ text: "", language: null, segments: [], audio_duration_sec: null });
    await expectError(await call("GET", `/v1/transcriptions/${job.id}/transcript?format=docx`), 400, "invalid_request");
    await expectError(await call("GET", `/v1/transcriptions/${job.id}/transcript?partial=maybe`), 400, "invalid_request");
  });
});
