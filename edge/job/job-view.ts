import type { Progress, TranscriptionJob, Usage, WebhookStatus } from "../../shared/api.ts";
import { stateTimes, type JobState, type StateTimes } from "./job-state.ts";
import type { JobRecord, RangeRecord } from "./job-store.ts";

/** The public JSON of a job, computed from its record and ranges at `now`. */
export function jobView(
  job: JobRecord,
  ranges: readonly RangeRecord[],
  webhook: WebhookStatus | null,
  pricePerHourUsd: number,
  now: number,
): TranscriptionJob {
  const s = job.state;
  const times = stateTimes(s);
  const progress = progressOf(s, ranges, times.started_at, now);
  const usage = usageOf(job, ranges, times, pricePerHourUsd, now);
  return {
    id: job.id,
    object: "transcription",
    status: s.status,
    audio_url: job.audio_url,
    created_at: iso(job.created_at),
    ...(times.started_at !== null ? { started_at: iso(times.started_at) } : {}),
    ...(times.completed_at !== null ? { completed_at: iso(times.completed_at) } : {}),
    ...(times.duration_sec !== null ? { audio_duration_sec: times.duration_sec } : {}),
    options: {
      language: job.options.language,
      macro_chunk_sec: job.options.macro_chunk_sec,
      micro_chunk_sec: job.options.micro_chunk_sec,
      word_timestamps: job.options.word_timestamps,
    },
    progress,
    ...(usage ? { usage } : {}),
    ...(s.status === "failed" ? { error: s.error } : {}),
    ...(webhook ? { webhook } : {}),
    ...(job.metadata ? { metadata: job.metadata } : {}),
  };
}

function progressOf(s: JobState, ranges: readonly RangeRecord[], startedAt: number | null, now: number): Progress {
  const total = ranges.reduce((sum, r) => sum + (r.end_sec - r.start_sec), 0);
  let done = 0;
  let rangesDone = 0;
  let rangesActive = 0;
  for (const r of ranges) {
    const length = r.end_sec - r.start_sec;
    if (r.state.status === "done") {
      done += length;
      rangesDone += 1;
    } else if (r.state.status === "leased") {
      done += Math.min(length, r.state.audio_sec_done);
      rangesActive += 1;
    }
  }
  const progress: Progress = {
    audio_sec_done: round1(s.status === "completed" ? total : done),
    audio_sec_total: round1(total),
    ranges_done: rangesDone,
    ranges_total: ranges.length,
    ranges_active: rangesActive,
  };
  if (s.status === "running" && startedAt !== null && done > 0) {
    // Extrapolates the job's own pace so far; crude early on, honest later.
    progress.eta_sec = Math.round(((total - done) * (now - startedAt)) / 1000 / done);
  }
  return progress;
}

function usageOf(job: JobRecord, ranges: readonly RangeRecord[], times: StateTimes, price: number, now: number): Usage | undefined {
  const machineSec = ranges.reduce((sum, r) => sum + (r.state.status === "done" ? r.state.machine_sec : 0), job.plan_machine_sec);
  if (machineSec <= 0 || times.started_at === null) return undefined;
  const wallSec = ((times.completed_at ?? now) - times.started_at) / 1000;
  const audioDone = ranges.reduce((sum, r) => sum + (r.state.status === "done" ? r.end_sec - r.start_sec : 0), 0);
  return {
    machine_sec: round1(machineSec),
    cost_usd: Math.round((machineSec / 3600) * price * 1e6) / 1e6,
    speedup: wallSec > 0 ? round1(audioDone / wallSec) : 0,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
