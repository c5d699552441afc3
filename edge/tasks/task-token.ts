import { openToken, signToken, type TokenKind } from "./signed-token.ts";

/**
 * Task tokens: a machine gets one per task it claims and must present it on every
 * post for that task. It names the job, the task, the attempt and the machine that
 * claimed it, signed under a key derived from the edge-only secret (never from
 * MACHINE_TOKEN or a machine's credential, which machines hold and could sign
 * with), so it cannot be forged by a machine, used for another job or task, and
 * the job object refuses it once the attempt has moved on.
 */
export interface TaskClaims {
  job_id: string;
  task_id: string;
  attempt: number;
  machine_id: string;
}

const TASK_TOKEN: TokenKind = { version: "tt1", purpose: "longscribe task token v2" };

export async function mintTaskToken(edgeSecret: string, claims: TaskClaims): Promise<string> {
  return signToken(edgeSecret, TASK_TOKEN, [claims.job_id, claims.task_id, claims.attempt, claims.machine_id]);
}

/** The claims of a genuine token, or null for anything forged, altered or malformed. */
export async function verifyTaskToken(edgeSecret: string, token: string): Promise<TaskClaims | null> {
  const fields = await openToken(edgeSecret, TASK_TOKEN, token);
  if (fields?.length !== 4) return null;
  const [job_id, task_id, attempt, machine_id] = fields;
  if (typeof job_id !== "string" || typeof task_id !== "string" || typeof attempt !== "number" || typeof machine_id !== "string") return null;
  return { job_id, task_id, attempt, machine_id };
}
