import type { JobStatus, TranscriptionJob } from "../shared/api.ts";
import type { ApiClient } from "./api-client.ts";
import { ApiUnreachable, Interrupted } from "./cli-errors.ts";
import type { ProgressDisplay } from "./progress-display.ts";
import { sleep } from "../shared/sleep.ts";

export function isFinished(status: JobStatus): boolean {
  switch (status) {
    case "queued":
    case "planning":
    case "running":
      return false;
    case "completed":
    case "failed":
    case "canceled":
      return true;
    default:
      return status satisfies never;
  }
}

/**
 * A wait can last hours: a few polls in a row that reach nothing (a network
 * blip, `wrangler dev` reloading) are waited out, slower each time.
 */
const UNREACHABLE_POLLS_TOLERATED = 5;

/** Polls the job until it ends, showing each answer; rejects with Interrupted when `signal` aborts. */
export async function waitForJob(
  client: ApiClient,
  id: string,
  opts: { pollMs: number; display: ProgressDisplay; signal?: AbortSignal | undefined },
): Promise<TranscriptionJob> {
  let misses = 0;
  try {
    for (;;) {
      if (opts.signal?.aborted) throw new Interrupted("interrupted");
      let job: TranscriptionJob;
      try {
        job = await client.get(id);
        misses = 0;
      } catch (error) {
        if (!(error instanceof ApiUnreachable) || ++misses > UNREACHABLE_POLLS_TOLERATED) throw error;
        await sleep(opts.pollMs * 2 ** misses, opts.signal);
        continue;
      }
      opts.display.show(job);
      if (isFinished(job.status)) return job;
      await sleep(opts.pollMs, opts.signal);
    }
  } finally {
    opts.display.finish();
  }
}
