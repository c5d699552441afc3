import type { MachineLabel } from "../../shared/api.ts";
import type { Result } from "../errors.ts";
import type { MachineCredential } from "../tasks/machine-credential.ts";
import type { QueueStats } from "./fair-queue.ts";
import { DIRECTORY_SHARD, shardName } from "./shards.ts";
import { queueName } from "./work.ts";

/**
 * The contract between the queue shards and the directory (shard 0, which holds
 * the fleet): what a shard asks of it and tells it. The fleet must stay one (one
 * set of provider calls, one machine table, one set of credentials), so the other
 * shards keep no fleet state of their own.
 */

/** A shard's work as it last counted it, and the machines holding its leases (busy: never retired as idle). */
export type ShardReport = QueueStats & { machines: string[] };

export interface QueueDirectory {
  /**
   * Whether a machine's credential lets it claim as `machineId` (Fleet.identify), what it
   * runs on (to price its work), and, on its first claim, that it came up.
   */
  vouch(machineId: string, credential: MachineCredential): Promise<Result<MachineLabel>>;
  /** Shard `shard`'s work now, so the fleet sizes to the whole backlog. */
  report(shard: number, work: ShardReport): Promise<void>;
}

export function directoryFor(env: Env): QueueDirectory {
  return env.QUEUE.get(env.QUEUE.idFromName(queueName(shardName(DIRECTORY_SHARD)))) as unknown as QueueDirectory;
}

/** Which shard the queue object `id` is among `shards`: the directory for any name not one of shards 1… (tests make their own). */
export function shardIndexOf(env: Env, id: DurableObjectId, shards: number): number {
  for (let i = 1; i < shards; i++) if (id.equals(env.QUEUE.idFromName(queueName(shardName(i))))) return i;
  return DIRECTORY_SHARD;
}
