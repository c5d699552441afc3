import type { TaskClaims } from "./tasks/task-token.ts";

/** Hono's typing for this app: bindings from wrangler, and what middleware sets. */
export interface AppEnv {
  Bindings: Env;
  Variables: { keyId: string; task: TaskClaims };
}
