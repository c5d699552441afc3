import { taskId, type TaskRef } from "../tasks/task-id.ts";
import type { UnsignedPlanTask, UnsignedRangeTask } from "../queue/work.ts";
import type { JobRecord, RangeRecord } from "./job-store.ts";

/** A lease as handed out: its attempt, until when it holds, and for how long each heartbeat extends it. */
export interface Lease {
  attempt: number;
  lease_until: number;
  lease_sec: number;
}

/** The one place a task is built from a job and its lease. */
function taskBase(job: JobRecord, ref: TaskRef, lease: Lease) {
  return { job_id: job.id, task_id: taskId(job.id, ref), ...lease, media_url: job.audio_url, upload_id: job.upload_id, options: job.options };
}

export function planTask(job: JobRecord, lease: Lease): UnsignedPlanTask {
  return { kind: "plan", ...taskBase(job, { kind: "plan" }, lease) };
}

/**
 * `language`: the language to force, or null to let the machine detect it.
 * `next`: the range after this one (null for the last), whose start is this one's end.
 */
export function rangeTask(job: JobRecord, range: RangeRecord, next: RangeRecord | null, lease: Lease, language: string | null): UnsignedRangeTask {
  const settle = { start: !range.start_settled, end: next !== null && !next.start_settled };
  return {
    kind: "range",
    ...taskBase(job, { kind: "range", index: range.idx }, lease),
    range_index: range.idx,
    start_sec: range.start_sec,
    end_sec: range.end_sec,
    media: job.plan_media,
    language,
    ...((settle.start || settle.end) && job.boundary_search_sec !== null ? { settle: { ...settle, search_sec: job.boundary_search_sec } } : {}),
  };
}
