import { assertNever } from "../../shared/assert-never.ts";
import { keyIndexFor, type JobQuotaState } from "../key-index/key-index-object.ts";
import { NO_WORK, queueForJobs, type JobWork } from "../queue/work.ts";
import type { Clock, Deadlines } from "./deadlines.ts";
import { isTerminal, stateTimes } from "./job-state.ts";
import type { JobRecord, JobStore } from "./job-store.ts";

/**
 * What a job tells the objects outside it, each told again from the alarm when a call
 * fails (its deadline row written first): the work queue (what the job has to hand
 * out) and its key's index (that the job exists, its planned audio, that it finished),
 * so no job is stranded in the queue or runs unlisted and uncounted by its key.
 */
export class JobLinks {
  constructor(
    private readonly env: Env,
    private readonly store: JobStore,
    private readonly deadlines: Deadlines,
    private readonly clock: Clock,
  ) {}

  /** What this job has to hand out, for the queue. */
  work(): JobWork {
    const job = this.store.readJob();
    if (!job) return NO_WORK;
    switch (job.state.status) {
      case "queued":
        return { ...NO_WORK, pending: 1 };
      case "planning":
        return { ...NO_WORK, leased: 1, machines: [job.state.machine_id] };
      case "running": {
        const pending = this.store.countRanges("pending");
        const leased = this.store.countRanges("leased");
        return {
          pending: pending.n,
          pending_audio_sec: pending.audio_sec,
          leased: leased.n,
          leased_audio_sec: leased.audio_sec,
          machines: this.store.leasedMachineIds(),
        };
      }
      case "completed":
      case "failed":
      case "canceled":
        return NO_WORK;
      default:
        return assertNever(job.state);
    }
  }

  /** Tells the queue what this job has to hand out. A failed call is retried from the alarm, so work is never stranded. */
  async notifyQueue(): Promise<void> {
    const job = this.store.readJob();
    if (!job) return;
    try {
      await queueForJobs(this.env, job.id).update(job.id, job.owner, job.created_at, this.work());
    } catch (error) {
      console.error("queue update failed; retrying from the alarm", error);
      this.deadlines.set("queue_notify", "queue", this.clock.now() + 1_000);
      await this.deadlines.arm();
    }
  }

  /**
   * Takes an erased job out of the queue, else its row (with work machines still hold)
   * would stay; should this call fail, the queue's own check of rows nobody updates
   * finds nothing here and drops it.
   */
  async leaveQueue(job: { id: string; owner: string; created_at: number }): Promise<void> {
    await queueForJobs(this.env, job.id)
      .update(job.id, job.owner, job.created_at, NO_WORK)
      .catch((error: unknown) => console.error("queue update after erase failed; the queue's check will drop the row", error));
  }

  /** Lists the job under its key (and commits its Idempotency-Key, `ref`, when it has one). */
  async addToIndex(ref: string): Promise<void> {
    const job = this.store.readJob();
    if (!job) return;
    try {
      await keyIndexFor(this.env, job.owner).add(job.id, job.created_at, ref === "" ? null : ref, quotaState(job));
      this.deadlines.clear("index_add", ref);
    } catch (error) {
      console.error("listing the job under its key failed; retrying from the alarm", error);
      this.deadlines.set("index_add", ref, this.clock.now() + 1_000);
    }
  }

  /** Tells the key's index what its quotas count of this job: planned audio, and whether it is finished. */
  async syncIndex(): Promise<void> {
    const job = this.store.readJob();
    if (!job) return;
    try {
      await keyIndexFor(this.env, job.owner).sync(job.id, job.created_at, quotaState(job));
      this.deadlines.clear("index_sync", "");
    } catch (error) {
      console.error("telling the key's index about the job failed; retrying from the alarm", error);
      this.deadlines.set("index_sync", "", this.clock.now() + 1_000);
    }
  }
}

function quotaState(job: JobRecord): JobQuotaState {
  return { active: !isTerminal(job.state), audio_sec: stateTimes(job.state).duration_sec ?? 0 };
}
