import { ApiError } from "../errors.ts";

/**
 * Task ids, minted by the job object when it hands a task out and parsed by
 * the machine routes when the task's token comes back: `tr_….plan` for a
 * job's plan, `tr_….r12` for its range 12.
 */
export type TaskRef = { kind: "plan" } | { kind: "range"; index: number };

export function taskId(jobId: string, ref: TaskRef): string {
  switch (ref.kind) {
    case "plan":
      return `${jobId}.plan`;
    case "range":
      return `${jobId}.r${ref.index}`;
  }
}

/** The task a (verified) token's task id names in its job; anything else was never minted. */
export function parseTaskId(jobId: string, id: string): TaskRef {
  if (!id.startsWith(jobId)) throw new ApiError(404, "not_found", "no such task");
  const suffix = id.slice(jobId.length);
  if (suffix === ".plan") return { kind: "plan" };
  const match = /^\.r(\d{1,6})$/.exec(suffix);
  if (!match) throw new ApiError(404, "not_found", "no such task");
  return { kind: "range", index: Number(match[1]) };
}
