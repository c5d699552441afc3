/**
 * Which queue shard a job belongs to, and in which order a machine's claim
 * asks the shards. Shard 0 keeps the name the single queue always had
 * (`queue:default`) and is also the directory: it alone holds the fleet, so
 * QUEUE_SHARDS=1 is the queue as it was.
 */

export const DIRECTORY_SHARD = 0;

/** The name after `queue:` of shard `index`. */
export function shardName(index: number): string {
  return index === DIRECTORY_SHARD ? "default" : `shard-${index}`;
}

/**
 * FNV-1a over the id's UTF-16 units (ids are ASCII), then murmur3's finaliser: FNV's
 * low bits follow the low bits of the input alone, so sequential names ("vm-1",
 * "vm-2") would fall on few shards without it. Pure arithmetic: runs in workerd and Node.
 */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The shard of job `jobId` among `shards`: fixed for the job's life while QUEUE_SHARDS stays. */
export function shardOfJob(jobId: string, shards: number): number {
  return stableHash(jobId) % shards;
}

/**
 * The shards a claim asks, in turn: the machine's home shard first (from its id, so
 * machines spread evenly and each shard vouches for the same machines every time),
 * then the others in ring order. At most `shards` calls, and one while the home
 * shard has work.
 */
export function claimOrder(machineId: string, shards: number): number[] {
  const home = stableHash(`machine:${machineId}`) % shards;
  return Array.from({ length: shards }, (_, i) => (home + i) % shards);
}
