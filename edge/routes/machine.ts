import type { Context } from "hono";
import type { z } from "zod";
import { createMiddleware } from "hono/factory";
import { ClaimRequest, ExitNotice, CompleteRequest, FailRequest, HeartbeatRequest, SegmentsPost, SettleRequest, type Task } from "../../shared/protocol.ts";
import type { AppEnv } from "../app-env.ts";
import type { MachineLabel } from "../../shared/api.ts";
import type { TaskFailure } from "../job/range-leases.ts";
import type { ShardClaim } from "../queue/queue-object.ts";
import { claimOrder, shardName } from "../queue/shards.ts";
import type { UnsignedTask } from "../queue/work.ts";
import { bearerToken, sameSecret } from "../auth.ts";
import { parseWith, readJson } from "../body.ts";
import { publicBase, readConfig } from "../config.ts";
import { ApiError, unwrap } from "../errors.ts";
import { jobStub, queueStub } from "../job-stubs.ts";
import { isMachineCredential, verifyMachineCredential } from "../tasks/machine-credential.ts";
import { parseTaskId } from "../tasks/task-id.ts";
import { signedUploadUrl } from "../uploads/upload-url.ts";
import { mintTaskToken, verifyTaskToken, type TaskClaims } from "../tasks/task-token.ts";

/** Segment posts carry up to 2,000 segments with words; far above the public API's 64 KB. */
const MACHINE_BODY_BYTES = 4 * 1024 * 1024;

function bearer(c: Context<AppEnv>): string {
  return bearerToken(c.req.header("authorization"), "Missing token: send `Authorization: Bearer <token>`.");
}

/**
 * A machine's own credential (machines the fleet made), checked against the
 * machine id it sends by the queue; or the shared MACHINE_TOKEN (machines run by
 * hand), compared as digests in constant time, when the operator sets one.
 */
export const requireMachine = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c);
  const config = readConfig(c.env);
  if (isMachineCredential(token)) {
    const credential = await verifyMachineCredential(config.webhookSigningKey, token);
    if (!credential) throw new ApiError(401, "unauthorized", "Invalid machine credential.");
    c.set("machine", credential);
  } else {
    if (!config.machineToken)
      throw new ApiError(401, "unauthorized", "Invalid machine token: this deployment takes machine credentials only (MACHINE_TOKEN is not set).");
    if (!(await sameSecret(token, config.machineToken))) throw new ApiError(401, "unauthorized", "Invalid machine token.");
    c.set("machine", null);
  }
  await next();
});

/** A task token for exactly the task named in the path. */
export const requireTask = createMiddleware<AppEnv>(async (c, next) => {
  const claims = await verifyTaskToken(readConfig(c.env).webhookSigningKey, bearer(c));
  if (!claims) throw new ApiError(401, "unauthorized", "Invalid task token.");
  if (claims.task_id !== c.req.param("task_id")) throw new ApiError(403, "forbidden", "this task token is for another task");
  c.set("task", claims);
  await next();
});

/**
 * POST /v1/machine/claim → 200 { tasks } or 204 when there is no work. The queue
 * shards are asked in turn from the machine's home shard (claimOrder) until one has
 * tasks: one call while that shard has work, QUEUE_SHARDS at most. One at a time, not
 * in parallel: each shard leases what it hands out, and tasks leased beyond
 * `capacity` would have to be given back, each costing its range an attempt.
 */
export async function claimTasks(c: Context<AppEnv>): Promise<Response> {
  const body = parseWith(ClaimRequest, await readJson(c.req.raw));
  const config = readConfig(c.env);
  let unsigned: UnsignedTask[] = [];
  let vouched: MachineLabel | null = null;
  for (const shard of claimOrder(body.machine_id, config.queueShards)) {
    const answer: ShardClaim = unwrap(
      await queueStub(c.env, shardName(shard)).claim(body.machine_id, body.capacity, config.leaseSec, c.get("machine"), vouched),
    );
    unsigned = answer.tasks;
    vouched = answer.machine;
    if (unsigned.length > 0) break;
  }
  if (unsigned.length === 0) return c.body(null, 204);
  const base = publicBase(c.env, c.req.url);
  const tasks: Task[] = await Promise.all(
    unsigned.map(async ({ upload_id, ...t }) => {
      const media_url = upload_id === null ? t.media_url : await signedUploadUrl(config.webhookSigningKey, base, upload_id);
      const task_token = await mintTaskToken(config.webhookSigningKey, {
        job_id: t.job_id,
        task_id: t.task_id,
        attempt: t.attempt,
        machine_id: body.machine_id,
      });
      return { ...t, media_url, task_token } as Task;
    }),
  );
  return c.json({ tasks });
}

/** POST /v1/machine/exit → 204: the machine is leaving; its provider is told to end it. */
export async function machineExit(c: Context<AppEnv>): Promise<Response> {
  const body = parseWith(ExitNotice, await readJson(c.req.raw));
  unwrap(await queueStub(c.env).machineExiting(body.machine_id, c.get("machine")));
  return c.body(null, 204);
}

/** The attempt in the body must be the token's: a token is one attempt's. */
function checkAttempt(claims: TaskClaims, attempt: number): void {
  if (attempt !== claims.attempt) throw new ApiError(409, "stale_attempt", `this token is for attempt ${claims.attempt}, not ${attempt}`);
}

/** What every task route starts with: the token's claims, the checked body, the task and its job. */
async function taskRequest<S extends z.ZodType<{ attempt: number }>>(c: Context<AppEnv>, schema: S) {
  const claims = c.get("task");
  const body: z.infer<S> = parseWith(schema, await readJson(c.req.raw, MACHINE_BODY_BYTES));
  checkAttempt(claims, body.attempt);
  return { claims, body, ref: parseTaskId(claims.job_id, claims.task_id), job: jobStub(c.env, claims.job_id) };
}

/** POST /v1/machine/tasks/:task_id/heartbeat */
export async function heartbeatTask(c: Context<AppEnv>): Promise<Response> {
  const { body, ref, job } = await taskRequest(c, HeartbeatRequest);
  const { leaseSec } = readConfig(c.env);
  const answer = ref.kind === "plan" ? await job.heartbeatPlan(body.attempt, leaseSec) : await job.heartbeatRange(ref.index, body.attempt, leaseSec);
  return c.json(unwrap(answer));
}

/** POST /v1/machine/tasks/:task_id/segments */
export async function postTaskSegments(c: Context<AppEnv>): Promise<Response> {
  const { body, ref, job } = await taskRequest(c, SegmentsPost);
  if (ref.kind !== "range") throw new ApiError(400, "invalid_request", "a plan task posts no segments; send the plan with complete");
  const { version: _version, ...post } = body;
  const answer = await job.postSegments({ ...post, range_index: ref.index });
  return c.json(unwrap(answer));
}

/** POST /v1/machine/tasks/:task_id/complete */
export async function completeTask(c: Context<AppEnv>): Promise<Response> {
  const { body, ref, job } = await taskRequest(c, CompleteRequest);
  if (ref.kind === "plan") {
    if (!body.plan) throw new ApiError(400, "invalid_request", "plan: a plan task completes with its plan", "plan");
    unwrap(
      await job.submitPlan(body.attempt, body.plan.duration_sec, body.plan.ranges, body.machine_sec, body.plan.media, body.plan.unsettled_search_sec ?? null),
    );
  } else {
    if (body.plan) throw new ApiError(400, "invalid_request", "plan: only a plan task sends a plan", "plan");
    unwrap(await job.completeRange(ref.index, body.attempt, body.machine_sec, { speakers: body.speakers, relabel: body.relabel }));
  }
  return c.json({ ok: true });
}

/** POST /v1/machine/tasks/:task_id/boundaries: the range's unsettled edges, proposed; answers them settled. */
export async function settleBoundaries(c: Context<AppEnv>): Promise<Response> {
  const { body, ref, job } = await taskRequest(c, SettleRequest);
  if (ref.kind !== "range") throw new ApiError(400, "invalid_request", "a plan task has no boundaries to settle");
  const proposal = { ...(body.start_sec !== undefined ? { start_sec: body.start_sec } : {}), ...(body.end_sec !== undefined ? { end_sec: body.end_sec } : {}) };
  return c.json(unwrap(await job.settleRange(ref.index, body.attempt, proposal)));
}

/** POST /v1/machine/tasks/:task_id/fail */
export async function failTask(c: Context<AppEnv>): Promise<Response> {
  const { body, ref, job } = await taskRequest(c, FailRequest);
  const failure: TaskFailure = { retryable: body.retryable, code: body.code, message: body.message };
  if (ref.kind === "plan") unwrap(await job.failPlan(body.attempt, failure));
  else unwrap(await job.failRange(ref.index, body.attempt, failure));
  return c.json({ ok: true });
}
