import type { TranscriptionJob } from "../../shared/api.ts";
import type { Deadlines } from "./deadlines.ts";
import type { JobEvent, Transition } from "./job-state.ts";
import type { JobRecord, JobStore } from "./job-store.ts";
import type { WebhookOutbox } from "./webhook-outbox.ts";

/**
 * What the job object lends its capabilities (the plan lease, the range
 * leases): its tables, its deadlines and outbox, and the two ways state
 * changes. The object alone owns storage transactions, the alarm and the
 * queue notice.
 */
export interface JobHost {
  readonly store: JobStore;
  readonly deadlines: Deadlines;
  readonly outbox: WebhookOutbox;
  /** The object's time (Clock); every rule reads it, never Date.now(). */
  now(): number;
  /** Runs `fn` as one storage transaction. */
  transaction(fn: () => void): void;
  /**
   * The one way the job's state changes: the pure transition, then the new
   * state and its consequences (`also`, webhook events) in one transaction,
   * the alarm re-armed and, unless the queue itself is asking, the queue told.
   */
  apply(event: JobEvent, also?: () => void, queue?: QueueNotice): Promise<Transition>;
  /** Tells the queue what this job has to hand out; retried from the alarm when the call fails. */
  notifyQueue(): Promise<void>;
  view(job: JobRecord, now?: number): TranscriptionJob;
}

/** "quiet" when the queue is the caller (leaseNext): it learns the job's work from the answer. */
export type QueueNotice = "notify" | "quiet";
