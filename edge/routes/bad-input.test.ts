import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ApiErrorBody } from "../../shared/api.ts";
import type { Task } from "../../shared/protocol.ts";
import { TEST_MACHINE_TOKEN } from "../../test/support/test-secrets.ts";
import { mintTaskToken } from "../tasks/task-token.ts";
import { BASE, call, getJob, KEY_A, KEY_B, reportRow, submit } from "../test-helpers.ts";
import { claimFor, machine, planned, post, V } from "./machine-test-helpers.ts";

/**
 * The bad-input matrix: every row must end in a 4xx with `{ error: { code,
 * message, param? } }` and exactly the code (and param) it names, within
 * ROW_LIMIT_MS. Each row is recorded for the reliability report before it is
 * asserted. Good requests live beside their routes (transcriptions.test.ts,
 * machine.test.ts); the last test here checks the service still takes one.
 */

type Suite = "bad input: URLs" | "bad input: bodies" | "bad input: auth";

interface Row {
  case: string;
  status: number;
  code: string;
  /** The field the error must name; absent means the error names none. */
  param?: string;
  /** Text the message must contain. */
  says?: string;
  send: () => Promise<Response>;
}

/** Longer than the edge's own 10 s media timeout, so a hang shows as a hang. */
const ROW_LIMIT_MS = 15_000;

async function runRow(suite: Suite, row: Row): Promise<void> {
  const expected = `${row.status} ${row.code}`;
  const observed = await observe(row);
  const pass = observed === expected;
  await reportRow({ suite, case: row.case, expected, observed, pass });
  expect(observed).toBe(expected);
}

/** `422 url_not_allowed`, with what is wrong appended when the answer is not exactly what the row asks. */
async function observe(row: Row): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const limit = new Promise<"hang">((resolve) => (timer = setTimeout(() => resolve("hang"), ROW_LIMIT_MS)));
  const response = await Promise.race([row.send(), limit]).finally(() => timer !== null && clearTimeout(timer));
  if (response === "hang") return `no answer within ${ROW_LIMIT_MS / 1000} s`;
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `${response.status} (not JSON: ${text.slice(0, 60)})`;
  }
  const parsed = ApiErrorBody.strict().safeParse(json);
  if (!parsed.success) return `${response.status} (not an error body: ${text.slice(0, 120)})`;
  const { code, message, param } = parsed.data.error;
  const problems = [
    message.trim() === "" ? "empty message" : null,
    param !== row.param ? `param ${JSON.stringify(param)}, not ${JSON.stringify(row.param)}` : null,
    // A malformed request's message names the field to fix.
    response.status === 400 && param !== undefined && !message.includes(param) ? `message ${JSON.stringify(message)} does not name ${param}` : null,
    row.says !== undefined && !message.includes(row.says) ? `message ${JSON.stringify(message)} lacks ${JSON.stringify(row.says)}` : null,
  ].filter((p) => p !== null);
  return `${response.status} ${code}${problems.length > 0 ? ` (${problems.join("; ")})` : ""}`;
}

const submitRaw =
  (rawBody: string, headers: Record<string, string> = {}) =>
  () =>
    call("POST", "/v1/transcriptions", { rawBody, headers });
const submitJson = (body: Record<string, unknown>) => submitRaw(JSON.stringify({ audio_url: "https://media.test/audio.mp3", ...body }));
const submitUrl = (audio_url: string) => submitRaw(JSON.stringify({ audio_url }));

/** A 4xx for one audio_url: media problems and refused addresses are 422, malformed URLs 400. */
function urlRow(name: string, audio_url: string, code: string, says?: string): Row {
  const status = code === "invalid_url" || code === "invalid_request" ? 400 : 422;
  return { case: name, status, code, param: "audio_url", ...(says ? { says } : {}), send: submitUrl(audio_url) };
}

const URL_ROWS: Row[] = [
  // What the media server answers.
  urlRow("a server that ignores Range", "https://media.test/no-range.mp3", "range_not_supported", "206"),
  urlRow("a 404", "https://media.test/missing.mp3", "media_unreachable", "HTTP 404 for https://media.test/missing.mp3"),
  urlRow("a 401", "https://media.test/private.mp3", "media_unreachable", "HTTP 401 for https://media.test/private.mp3"),
  urlRow("an HTML page", "https://media.test/page.html", "not_media", "text/html"),
  urlRow("a JSON document", "https://media.test/data.json", "not_media", "application/json"),
  urlRow("zero bytes (HEAD says Content-Length: 0)", "https://media.test/empty.mp3", "empty_media", "0 bytes"),
  urlRow("zero bytes (no length on HEAD, range probe 416 */0)", "https://media.test/empty-unsized.mp3", "empty_media", "0 bytes"),
  urlRow("zero bytes (HEAD refused, empty 200 to the range probe)", "https://media.test/empty-200.mp3", "empty_media", "0 bytes"),
  urlRow("an unknown host", "https://nowhere.example/a.mp3", "media_unreachable", "HTTP 502 for https://nowhere.example/a.mp3"),
  // Redirects: each hop is checked; the client's URL was fine, so refusals are 422.
  urlRow("a redirect loop", "https://media.test/loop", "media_unreachable", "more than 5 redirects"),
  urlRow("six redirects", "https://media.test/redirect/6", "media_unreachable", "more than 5 redirects"),
  urlRow("a redirect to an unparsable Location", "https://media.test/redirect-to-garbage", "media_unreachable", "invalid Location"),
  urlRow("a redirect to loopback", "https://media.test/redirect-to-loopback", "url_not_allowed", "reached by redirect"),
  urlRow("a redirect to IPv6 loopback", "https://media.test/redirect-to-ipv6-loopback", "url_not_allowed", "reached by redirect"),
  urlRow("a redirect to a private address", "https://media.test/redirect-to-private", "url_not_allowed", "reached by redirect"),
  urlRow("a redirect to cloud metadata", "https://media.test/redirect-to-metadata", "url_not_allowed", "reached by redirect"),
  urlRow("a redirect to file:", "https://media.test/redirect-to-file", "url_not_allowed", "reached by redirect"),
  urlRow("a redirect to a URL with credentials", "https://media.test/redirect-to-credentials", "url_not_allowed", "reached by redirect"),
  // IPv4, in every spelling WHATWG URL normalises.
  urlRow("loopback", "http://127.0.0.1/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("a private address", "http://10.0.0.7/audio.mp3", "url_not_allowed", "private"),
  urlRow("a CGNAT address", "http://100.64.1.1/audio.mp3", "url_not_allowed", "private"),
  urlRow("cloud metadata", "http://169.254.169.254/latest/meta-data/", "url_not_allowed", "metadata"),
  urlRow("0.0.0.0", "http://0.0.0.0/audio.mp3", "url_not_allowed", "reserved"),
  urlRow("http://0/ (0.0.0.0)", "http://0/audio.mp3", "url_not_allowed", "reserved"),
  urlRow("decimal loopback http://2130706433/", "http://2130706433/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("hex loopback http://0x7f.1/", "http://0x7f.1/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("octal loopback http://017700000001/", "http://017700000001/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("dotted octal loopback http://0177.0.0.1/", "http://0177.0.0.1/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("short loopback http://127.1/", "http://127.1/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("full-width digits for 127.0.0.1", "http://１２７.０.０.１/audio.mp3", "url_not_allowed", "loopback"),
  // IPv6 literals.
  urlRow("IPv6 loopback [::1]", "http://[::1]/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("IPv6 unspecified [::]", "http://[::]/audio.mp3", "url_not_allowed", "reserved"),
  urlRow("IPv6 unique local [fc00::1]", "http://[fc00::1]/audio.mp3", "url_not_allowed", "private"),
  urlRow("AWS IPv6 metadata [fd00:ec2::254]", "http://[fd00:ec2::254]/", "url_not_allowed", "private"),
  urlRow("IPv6 link-local [fe80::1]", "http://[fe80::1]/audio.mp3", "url_not_allowed", "link-local"),
  urlRow("IPv6 link-local with a zone id", "http://[fe80::1%25eth0]/audio.mp3", "invalid_url"),
  urlRow("IPv4-mapped loopback [::ffff:127.0.0.1]", "http://[::ffff:127.0.0.1]/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("IPv4-mapped metadata [::ffff:169.254.169.254]", "http://[::ffff:169.254.169.254]/", "url_not_allowed", "metadata"),
  urlRow("IPv4-mapped private [::ffff:192.168.1.1]", "http://[::ffff:192.168.1.1]/audio.mp3", "url_not_allowed", "private"),
  urlRow("IPv4-compatible loopback [::127.0.0.1]", "http://[::127.0.0.1]/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("IPv4-translated loopback [::ffff:0:127.0.0.1]", "http://[::ffff:0:127.0.0.1]/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("NAT64 loopback [64:ff9b::127.0.0.1]", "http://[64:ff9b::127.0.0.1]/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("NAT64 metadata [64:ff9b::169.254.169.254]", "http://[64:ff9b::169.254.169.254]/", "url_not_allowed", "metadata"),
  urlRow("local-use NAT64 [64:ff9b:1::a00:1]", "http://[64:ff9b:1::a00:1]/audio.mp3", "url_not_allowed", "private"),
  urlRow("6to4 loopback [2002:7f00:1::]", "http://[2002:7f00:1::]/audio.mp3", "url_not_allowed", "loopback"),
  // Names: only what needs no DNS answer (Workers cannot see one).
  urlRow("localhost", "http://localhost/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("localhost. (trailing dot)", "http://localhost./audio.mp3", "url_not_allowed", "loopback"),
  urlRow("localhost.. (two trailing dots)", "http://localhost../audio.mp3", "url_not_allowed", "loopback"),
  urlRow("127.0.0.1.. (two trailing dots)", "http://127.0.0.1../audio.mp3", "url_not_allowed", "loopback"),
  urlRow("a *.localhost name", "http://api.localhost/audio.mp3", "url_not_allowed", "loopback"),
  urlRow("GCP metadata by name", "http://metadata.google.internal/computeMetadata/v1/", "url_not_allowed", "metadata"),
  urlRow("GCP metadata by name with a trailing dot", "http://metadata.google.internal./computeMetadata/v1/", "url_not_allowed", "metadata"),
  urlRow("a single-label name", "http://intranet/audio.mp3", "url_not_allowed", "internal-name"),
  urlRow("an mDNS name", "http://printer.local/audio.mp3", "url_not_allowed", "internal-name"),
  // Schemes, credentials, shape.
  urlRow("file:", "file:///etc/passwd", "invalid_url", "file:"),
  urlRow("ftp:", "ftp://media.test/a.mp3", "invalid_url", "ftp:"),
  urlRow("data:", "data:audio/mpeg;base64,SUQz", "invalid_url", "data:"),
  urlRow("javascript:", "javascript:alert(1)", "invalid_url", "javascript:"),
  urlRow("no scheme", "media.test/audio.mp3", "invalid_url"),
  urlRow("user:pass@ in the URL", "https://user:pass@media.test/audio.mp3", "invalid_url", "credentials"),
  urlRow("user@ in the URL", "https://user@media.test/audio.mp3", "invalid_url", "credentials"),
  urlRow("a 10 kB URL (over MAX_URL_LENGTH)", `https://media.test/${"a".repeat(10_000)}`, "invalid_request", "4096"),
];

/** A body of `bytes` bytes sent as a stream, so no Content-Length tells the edge its size. */
function streamed(bytes: number): ReadableStream<Uint8Array> {
  const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      controller.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
}

const BODY_ROWS: Row[] = [
  { case: "malformed JSON", status: 400, code: "invalid_json", send: submitRaw("{not json") },
  { case: "an empty body", status: 400, code: "invalid_json", says: "empty", send: submitRaw("") },
  // The Content-Type is not insisted upon (body.ts), so a form body fails as JSON.
  {
    case: "a form-encoded body",
    status: 400,
    code: "invalid_json",
    send: submitRaw("audio_url=https%3A%2F%2Fmedia.test%2Faudio.mp3", { "content-type": "application/x-www-form-urlencoded" }),
  },
  { case: "a JSON array", status: 400, code: "invalid_request", send: submitRaw("[]") },
  { case: "JSON null", status: 400, code: "invalid_request", send: submitRaw("null") },
  { case: "a missing audio_url", status: 400, code: "invalid_request", param: "audio_url", send: submitRaw("{}") },
  { case: "audio_url a number", status: 400, code: "invalid_request", param: "audio_url", send: submitRaw(`{"audio_url":42}`) },
  { case: "language a number", status: 400, code: "invalid_request", param: "language", send: submitJson({ language: 5 }) },
  { case: "word_timestamps a string", status: 400, code: "invalid_request", param: "word_timestamps", send: submitJson({ word_timestamps: "yes" }) },
  { case: "temperature 2", status: 400, code: "invalid_request", param: "temperature", send: submitJson({ temperature: 2 }) },
  { case: "task summarize", status: 400, code: "invalid_request", param: "task", send: submitJson({ task: "summarize" }) },
  { case: "a 5000-character prompt", status: 400, code: "invalid_request", param: "prompt", says: "1000", send: submitJson({ prompt: "x".repeat(5000) }) },
  { case: "metadata an array", status: 400, code: "invalid_request", param: "metadata", send: submitJson({ metadata: [1, 2] }) },
  {
    case: "webhook_events a string",
    status: 400,
    code: "invalid_request",
    param: "webhook_events",
    send: submitJson({ webhook_url: "https://hooks.test/ok/x", webhook_events: "progress" }),
  },
  {
    case: "an unknown webhook event",
    status: 400,
    code: "invalid_request",
    param: "webhook_events.0",
    send: submitJson({ webhook_url: "https://hooks.test/ok/x", webhook_events: ["everything"] }),
  },
  { case: "an unknown field", status: 400, code: "unknown_field", param: "speaker_labels", send: submitJson({ speaker_labels: true }) },
  {
    case: "a __proto__ field",
    status: 400,
    code: "unknown_field",
    param: "__proto__",
    send: submitRaw(`{"audio_url":"https://media.test/audio.mp3","__proto__":{"admin":true}}`),
  },
  {
    case: "metadata over 4 KB",
    status: 400,
    code: "invalid_request",
    param: "metadata",
    says: "4096",
    send: submitJson({ metadata: { note: "x".repeat(5000) } }),
  },
  { case: "a body over 64 KB", status: 413, code: "body_too_large", send: submitJson({ metadata: { a: "x".repeat(70_000) } }) },
  {
    case: "a 1 MB body streamed without Content-Length",
    status: 413,
    code: "body_too_large",
    send: () =>
      SELF.fetch(`${BASE}/v1/transcriptions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY_A}`, "content-type": "application/json" },
        body: streamed(1024 * 1024),
      }),
  },
  { case: "macro_chunk_sec negative", status: 400, code: "invalid_request", param: "macro_chunk_sec", send: submitJson({ macro_chunk_sec: -300 }) },
  { case: "macro_chunk_sec below 60", status: 400, code: "invalid_request", param: "macro_chunk_sec", send: submitJson({ macro_chunk_sec: 59 }) },
  { case: "macro_chunk_sec above 1800", status: 400, code: "invalid_request", param: "macro_chunk_sec", send: submitJson({ macro_chunk_sec: 1801 }) },
  { case: "macro_chunk_sec a string", status: 400, code: "invalid_request", param: "macro_chunk_sec", send: submitJson({ macro_chunk_sec: "300" }) },
  // JSON has no NaN or Infinity literals: sent raw they are not JSON; 1e999 parses to Infinity.
  {
    case: "macro_chunk_sec NaN (raw)",
    status: 400,
    code: "invalid_json",
    send: submitRaw(`{"audio_url":"https://media.test/audio.mp3","macro_chunk_sec":NaN}`),
  },
  {
    case: "macro_chunk_sec Infinity (raw)",
    status: 400,
    code: "invalid_json",
    send: submitRaw(`{"audio_url":"https://media.test/audio.mp3","macro_chunk_sec":Infinity}`),
  },
  {
    case: "macro_chunk_sec 1e999 (Infinity after parsing)",
    status: 400,
    code: "invalid_request",
    param: "macro_chunk_sec",
    send: submitRaw(`{"audio_url":"https://media.test/audio.mp3","macro_chunk_sec":1e999}`),
  },
  { case: "micro_chunk_sec negative", status: 400, code: "invalid_request", param: "micro_chunk_sec", send: submitJson({ micro_chunk_sec: -5 }) },
  { case: "micro_chunk_sec below 5", status: 400, code: "invalid_request", param: "micro_chunk_sec", send: submitJson({ micro_chunk_sec: 4 }) },
  {
    case: "micro_chunk_sec -1e999 (-Infinity after parsing)",
    status: 400,
    code: "invalid_request",
    param: "micro_chunk_sec",
    send: submitRaw(`{"audio_url":"https://media.test/audio.mp3","micro_chunk_sec":-1e999}`),
  },
  { case: "micro_chunk_sec a string", status: 400, code: "invalid_request", param: "micro_chunk_sec", send: submitJson({ micro_chunk_sec: "30" }) },
  { case: "an unsupported language", status: 400, code: "unsupported_language", param: "language", says: "xx", send: submitJson({ language: "xx" }) },
  {
    case: "a webhook_url to a private address",
    status: 422,
    code: "url_not_allowed",
    param: "webhook_url",
    send: submitJson({ webhook_url: "http://192.168.0.10/hook" }),
  },
  {
    case: "a webhook_url to cloud metadata",
    status: 422,
    code: "url_not_allowed",
    param: "webhook_url",
    send: submitJson({ webhook_url: "https://[::ffff:169.254.169.254]/hook" }),
  },
  {
    case: "a webhook_url over plain http (production mode)",
    status: 400,
    code: "invalid_url",
    param: "webhook_url",
    says: "https",
    send: submitJson({ webhook_url: "http://hooks.test/ok/plain" }),
  },
  {
    case: "a webhook_url with credentials",
    status: 400,
    code: "invalid_url",
    param: "webhook_url",
    says: "credentials",
    send: submitJson({ webhook_url: "https://u:p@hooks.test/ok/x" }),
  },
  {
    case: "an Idempotency-Key over 255 characters",
    status: 400,
    code: "invalid_request",
    param: "Idempotency-Key",
    send: () => call("POST", "/v1/transcriptions", { body: { audio_url: "https://media.test/audio.mp3" }, headers: { "idempotency-key": "k".repeat(256) } }),
  },
  // The machine protocol's bodies.
  {
    case: "a claim with protocol version 2",
    status: 400,
    code: "invalid_request",
    param: "version",
    send: () => machine("/v1/machine/claim", { version: 2, machine_id: "m", capacity: 1 }),
  },
  {
    case: "a claim with an unknown field",
    status: 400,
    code: "unknown_field",
    param: "extra",
    send: () => machine("/v1/machine/claim", { ...V, machine_id: "m", capacity: 1, extra: true }),
  },
  {
    case: "a claim with capacity 0",
    status: 400,
    code: "invalid_request",
    param: "capacity",
    send: () => machine("/v1/machine/claim", { ...V, machine_id: "m", capacity: 0 }),
  },
  {
    case: "a plan task posting segments",
    status: 400,
    code: "invalid_request",
    send: () => post(planTask, "segments", { seq: 0, segments: [], audio_sec_done: 0 }),
  },
];

/** Tasks for the auth rows: made once, before the rows run. */
interface TaskFixtures {
  jobA: string;
  /** A range task of job A and one of job B, each attempt 1. */
  ra: Task;
  rb: Task;
  /** Attempt 1 of a range that failed and was claimed again as attempt 2. */
  replayed: Task;
}
let fx: TaskFixtures;
/** A plan task, for a body only range tasks may send. */
let planTask: Task;

const taskPost =
  (path: string, token: string | null, body: unknown = { ...V, attempt: 1 }) =>
  () =>
    machine(path, body, token);
const apiGet = (path: string, headers: Record<string, string>) => () => call("GET", path, { key: null, headers });
const claimWith = (token: string | null) => () => machine("/v1/machine/claim", { ...V, machine_id: "m-auth", capacity: 1 }, token);

const AUTH_ROWS: Row[] = [
  { case: "no API key", status: 401, code: "unauthorized", send: apiGet("/v1/transcriptions", {}) },
  { case: "Basic instead of Bearer", status: 401, code: "unauthorized", send: apiGet("/v1/transcriptions", { authorization: `Basic ${btoa(`${KEY_A}:`)}` }) },
  { case: "an empty Bearer", status: 401, code: "unauthorized", send: apiGet("/v1/transcriptions", { authorization: "Bearer " }) },
  { case: "Bearer with no space or key", status: 401, code: "unauthorized", send: apiGet("/v1/transcriptions", { authorization: "Bearer" }) },
  { case: "the key without a scheme", status: 401, code: "unauthorized", send: apiGet("/v1/transcriptions", { authorization: KEY_A }) },
  { case: "a non-ASCII key", status: 401, code: "unauthorized", send: apiGet("/v1/transcriptions", { authorization: "Bearer ключ-ключ-ключ-ключ" }) },
  {
    case: "two keys in one header",
    status: 401,
    code: "unauthorized",
    send: apiGet("/v1/transcriptions", { authorization: `Bearer ${KEY_A}, Bearer ${KEY_A}` }),
  },
  { case: "an unknown key", status: 401, code: "unauthorized", send: () => call("GET", "/v1/transcriptions", { key: "not_a_real_key_000000000" }) },
  {
    case: "a valid key with one character more",
    status: 401,
    code: "unauthorized",
    send: () => call("POST", "/v1/transcriptions", { key: `${KEY_A}x`, body: {} }),
  },
  { case: "the machine token as an API key", status: 401, code: "unauthorized", send: () => call("GET", "/v1/transcriptions", { key: TEST_MACHINE_TOKEN }) },
  // Another tenant's job reads exactly as a job that does not exist.
  {
    case: "an unknown job id",
    status: 404,
    code: "not_found",
    says: "no such transcription",
    send: () => call("GET", "/v1/transcriptions/tr_0123456789abcdefghjkmnpq", { key: KEY_B }),
  },
  {
    case: "another tenant's key reading a job",
    status: 404,
    code: "not_found",
    says: "no such transcription",
    send: () => call("GET", `/v1/transcriptions/${fx.jobA}`, { key: KEY_B }),
  },
  {
    case: "another tenant's key reading a transcript",
    status: 404,
    code: "not_found",
    says: "no such transcription",
    send: () => call("GET", `/v1/transcriptions/${fx.jobA}/transcript?partial=true`, { key: KEY_B }),
  },
  {
    case: "another tenant's key canceling a job",
    status: 404,
    code: "not_found",
    says: "no such transcription",
    send: () => call("POST", `/v1/transcriptions/${fx.jobA}/cancel`, { key: KEY_B }),
  },
  {
    case: "another tenant's key deleting a job",
    status: 404,
    code: "not_found",
    says: "no such transcription",
    send: () => call("DELETE", `/v1/transcriptions/${fx.jobA}`, { key: KEY_B }),
  },
  // Machines.
  { case: "a claim without a token", status: 401, code: "unauthorized", send: claimWith(null) },
  { case: "a claim with a wrong machine token", status: 401, code: "unauthorized", send: claimWith("x".repeat(40)) },
  { case: "a claim with an API key", status: 401, code: "unauthorized", send: claimWith(KEY_A) },
  { case: "a claim with a task token", status: 401, code: "unauthorized", send: () => claimWith(fx.ra.task_token)() },
  { case: "a task post without a token", status: 401, code: "unauthorized", send: () => taskPost(`/v1/machine/tasks/${fx.ra.task_id}/heartbeat`, null)() },
  {
    case: "a task post with the machine token",
    status: 401,
    code: "unauthorized",
    send: () => taskPost(`/v1/machine/tasks/${fx.ra.task_id}/heartbeat`, TEST_MACHINE_TOKEN)(),
  },
  {
    case: "a task post with a garbled token",
    status: 401,
    code: "unauthorized",
    send: () => taskPost(`/v1/machine/tasks/${fx.ra.task_id}/heartbeat`, "not-a-task-token")(),
  },
  {
    case: "a task post with truncated base64 (tt1.A.B)",
    status: 401,
    code: "unauthorized",
    send: () => taskPost(`/v1/machine/tasks/${fx.ra.task_id}/heartbeat`, "tt1.A.B")(),
  },
  {
    case: "a task post with a non-ASCII token",
    status: 401,
    code: "unauthorized",
    send: () => taskPost(`/v1/machine/tasks/${fx.ra.task_id}/heartbeat`, "tt1.ключ.ключ")(),
  },
  {
    case: "a forged task token (job B's claims, job A's signature)",
    status: 401,
    code: "unauthorized",
    send: () => {
      const claims = btoa(JSON.stringify([fx.rb.job_id, fx.rb.task_id, 1])).replace(/=+$/, "");
      const forged = `tt1.${claims}.${fx.ra.task_token.split(".")[2]}`;
      return taskPost(`/v1/machine/tasks/${fx.rb.task_id}/heartbeat`, forged)();
    },
  },
  {
    case: "a task token a machine signed itself with MACHINE_TOKEN (which every machine holds)",
    status: 401,
    code: "unauthorized",
    send: async () => {
      const self = await mintTaskToken(TEST_MACHINE_TOKEN, { job_id: fx.rb.job_id, task_id: fx.rb.task_id, attempt: fx.rb.attempt, machine_id: "m-thief" });
      return taskPost(`/v1/machine/tasks/${fx.rb.task_id}/heartbeat`, self)();
    },
  },
  {
    case: "job A's task token on job B's task path",
    status: 403,
    code: "forbidden",
    send: () => taskPost(`/v1/machine/tasks/${fx.rb.task_id}/heartbeat`, fx.ra.task_token)(),
  },
  {
    case: "a task token with another attempt in the body",
    status: 409,
    code: "stale_attempt",
    send: () => taskPost(`/v1/machine/tasks/${fx.ra.task_id}/heartbeat`, fx.ra.task_token, { ...V, attempt: 2 })(),
  },
  // machine.test.ts replays attempt 1's segments after attempt 2. A replayed heartbeat is
  // not refused but answered 200 { continue: false, reason: "superseded" }, so the
  // machine stops (job-object.test.ts): that is protocol, not bad input.
  {
    case: "attempt 1's token replayed on complete after attempt 2 was claimed",
    status: 409,
    code: "stale_attempt",
    send: () => post(fx.replayed, "complete", { machine_sec: 1 }),
  },
  {
    case: "attempt 1's token replayed on fail after attempt 2 was claimed",
    status: 409,
    code: "stale_attempt",
    send: () => post(fx.replayed, "fail", { retryable: true, code: "x", message: "replayed" }),
  },
];

describe("bad input: URLs", () => {
  it.each(URL_ROWS)("$case", (row) => runRow("bad input: URLs", row), ROW_LIMIT_MS + 5_000);
});

describe("bad input: bodies", () => {
  beforeAll(async () => {
    planTask = (await planned([[0, 60]])).plan;
  });
  it.each(BODY_ROWS)("$case", (row) => runRow("bad input: bodies", row), ROW_LIMIT_MS + 5_000);
});

describe("bad input: auth", () => {
  beforeAll(async () => {
    const a = await planned([[0, 60]]);
    const b = await planned([[0, 60]]);
    const ra = await claimFor(a.id, "range");
    const rb = await claimFor(b.id, "range");
    const c = await planned([[0, 60]]);
    const replayed = await claimFor(c.id, "range");
    expect((await post(replayed, "fail", { retryable: true, code: "origin_failed", message: "hiccup" })).status).toBe(200);
    expect((await claimFor(c.id, "range")).attempt).toBe(2);
    // Last, so that no claim above plans it: the rows must leave it queued.
    const jobA = (await submit({})).id;
    fx = { jobA, ra, rb, replayed };
  });

  it.each(AUTH_ROWS)("$case", (row) => runRow("bad input: auth", row), ROW_LIMIT_MS + 5_000);

  it("left the job that other tenants poked at untouched", async () => {
    expect((await getJob(fx.jobA, KEY_A)).status).toBe("queued");
  });
});

describe("after the matrix", () => {
  it("the service still takes a normal request", async () => {
    const created = await submit({ webhook_url: "https://hooks.test/ok/after-matrix", metadata: { after: "matrix" } });
    expect((await getJob(created.id)).status).toBe("queued");
  });
});
