import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import type { CreatedTranscription, TranscriptionJob } from "../shared/api.ts";
import { TEST_API_KEYS } from "../test/support/test-secrets.ts";

export const KEY_A = TEST_API_KEYS[0];
export const KEY_B = TEST_API_KEYS[1];
/** A key no other test uses, for tests that spend its rate or quota. */
export const KEY_C = TEST_API_KEYS[2];
export const KEY_D = TEST_API_KEYS[3];
export const BASE = "https://api.longscribe.test";

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

/** One request to the Worker, as a client would send it. */
export async function call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  const key = opts.key === undefined ? KEY_A : opts.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] = "application/json";
  }
  return SELF.fetch(`${BASE}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
}

export async function expectError(response: Response, status: number, code: string): Promise<{ code: string; message: string; param?: string }> {
  const body = (await response.json()) as { error: { code: string; message: string; param?: string } };
  expect({ status: response.status, code: body.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

export async function submit(body: Record<string, unknown>, opts: CallOptions = {}): Promise<CreatedTranscription> {
  const r = await call("POST", "/v1/transcriptions", { ...opts, body: { audio_url: "https://media.test/audio.mp3", ...body } });
  expect(r.status).toBe(202);
  return (await r.json()) as CreatedTranscription;
}

export async function getJob(id: string, key: string = KEY_A): Promise<TranscriptionJob> {
  const r = await call("GET", `/v1/transcriptions/${id}`, { key });
  expect(r.status).toBe(200);
  return (await r.json()) as TranscriptionJob;
}

/** Records a row of reports/reliability.md through the fake internet (workerd has no files). */
export async function reportRow(row: { suite: string; case: string; expected: string; observed: string; pass: boolean }): Promise<void> {
  const res = await fetch("https://control.test/report", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(row) });
  if (!res.ok) throw new Error(`the reliability row "${row.case}" was not recorded: ${res.status}`);
}
