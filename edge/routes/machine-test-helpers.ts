import { expect } from "vitest";
import type { Task } from "../../shared/protocol.ts";
import { TEST_MACHINE_TOKEN } from "../../test/support/test-secrets.ts";
import { call, submit } from "../test-helpers.ts";

/** Machine-protocol steps for edge tests: claim work, post as a task, plan a job. */

export const V = { version: 1 } as const;

export function machine(path: string, body: unknown, token: string | null = TEST_MACHINE_TOKEN): Promise<Response> {
  return call("POST", path, { key: token, body });
}

export async function claim(capacity = 1, machineId = "m-1"): Promise<Task[]> {
  const r = await machine("/v1/machine/claim", { ...V, machine_id: machineId, capacity });
  if (r.status === 204) return [];
  expect(r.status).toBe(200);
  return ((await r.json()) as { tasks: Task[] }).tasks;
}

/** Tasks claimed while looking for another; other tests' jobs share the queue. */
export const claimed: Task[] = [];

/** Claims until a task of `jobId` of the wanted kind turns up. */
export async function claimFor(jobId: string, kind: Task["kind"]): Promise<Task> {
  for (let i = 0; i < 50; i++) {
    const at = claimed.findIndex((t) => t.job_id === jobId && t.kind === kind);
    if (at >= 0) return claimed.splice(at, 1)[0]!;
    const tasks = await claim(4);
    if (tasks.length === 0) break;
    claimed.push(...tasks);
  }
  throw new Error(`no ${kind} task for ${jobId}`);
}

/** A post for task `t`, as its own attempt, with its own token unless another is given. */
export function post(t: Task, action: string, body: unknown, token: string | null = t.task_token): Promise<Response> {
  return machine(`/v1/machine/tasks/${t.task_id}/${action}`, { ...V, attempt: t.attempt, ...(body as object) }, token);
}

export const media = { container: "ogg", duration_sec: 120, channels: 1 };

/** A job submitted and planned into these ranges; its ranges wait to be claimed. */
export async function planned(ranges: Array<[number, number]>): Promise<{ id: string; plan: Task }> {
  const { id } = await submit({});
  const plan = await claimFor(id, "plan");
  const done = await post(plan, "complete", {
    machine_sec: 1.5,
    plan: { duration_sec: ranges.at(-1)![1], ranges: ranges.map(([start_sec, end_sec]) => ({ start_sec, end_sec })), media },
  });
  expect(done.status).toBe(200);
  return { id, plan };
}
