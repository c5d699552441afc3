import type { JobObject } from "./job/job-object.ts";
import type { KeyIndexObject } from "./key-index/key-index-object.ts";
import type { WorkQueue } from "./queue/queue-object.ts";
import type { UploadObject } from "./uploads/upload-object.ts";
import { DEFAULT_SHARD, jobObjectId, queueName } from "./queue/work.ts";

type Methods<T> = { [K in keyof T as T[K] extends (...args: never[]) => Promise<unknown> ? K : never]: T[K] };

/**
 * Stubs for the routes: the per-job and per-key objects and the queue, by the
 * names they are stored under (the objects reach each other through the
 * narrower stubs of queue/work.ts). Typed as the objects' own methods: workerd's generated RPC types turn
 * JSON-valued fields (`metadata`) into `unknown`, though the values cross the
 * boundary by structured clone unchanged.
 */
export function jobStub(env: Env, jobId: string): Methods<JobObject> {
  return env.JOBS.get(jobObjectId(env, jobId)) as unknown as Methods<JobObject>;
}

export function keyIndexStub(env: Env, keyId: string): Methods<KeyIndexObject> {
  return env.KEY_INDEX.get(env.KEY_INDEX.idFromName(keyId)) as unknown as Methods<KeyIndexObject>;
}

/** The work queue of a shard, whole, for the machine and status routes; one shard ("default") until claims outgrow one object. */
export function queueStub(env: Env, shard = DEFAULT_SHARD): Methods<WorkQueue> {
  return env.QUEUE.get(env.QUEUE.idFromName(queueName(shard))) as unknown as Methods<WorkQueue>;
}

/** The object of one upload, by its id. */
export function uploadStub(env: Env, uploadId: string): Methods<UploadObject> {
  return env.UPLOAD.get(env.UPLOAD.idFromName(uploadId)) as unknown as Methods<UploadObject>;
}
