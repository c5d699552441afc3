import type { MachineCredential } from "./tasks/machine-credential.ts";
import type { TaskClaims } from "./tasks/task-token.ts";

/** Hono's typing for this app: bindings from wrangler, and what middleware sets. */
export interface AppEnv {
  Bindings: Env;
  /** `machine`: the credential a machine showed, or null for the shared MACHINE_TOKEN. */
  Variables: { keyId: string; task: TaskClaims; machine: MachineCredential | null };
}
