import type { TranscriptionJob } from "../shared/api.ts";

/**
 * When a submitted job finished planning, showed its first transcribed audio
 * and ended, as its poller saw it: one definition for every measure, so the
 * report can hold them against the same target. Start it just before the submit.
 */
export class JobTimeline {
  readonly startedAt = Date.now();
  private plannedAt: number | null = null;
  private firstAt: number | null = null;
  endedAt: number | null = null;

  /** Notes one poll's answer; true once the job has ended. */
  see(job: TranscriptionJob): boolean {
    const now = Date.now();
    if (this.plannedAt === null && (job.status === "running" || job.status === "completed")) this.plannedAt = now;
    if (this.firstAt === null && job.progress.audio_sec_done > 0) this.firstAt = now;
    const ended = job.status === "completed" || job.status === "failed" || job.status === "canceled";
    if (ended && this.endedAt === null) this.endedAt = now;
    return ended;
  }

  /** Seconds from the submit to `at`. */
  private since(at: number): number {
    return (at - this.startedAt) / 1000;
  }

  get wallSec(): number {
    return this.since(this.endedAt ?? Date.now());
  }

  /** Until the plan was done; the whole run if no running status was ever seen. */
  get planSec(): number {
    return this.since(this.plannedAt ?? this.endedAt ?? Date.now());
  }

  get firstSegmentSec(): number | null {
    return this.firstAt === null ? null : this.since(this.firstAt);
  }
}
