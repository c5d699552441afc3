import { type MachineLabel, type MachineUsage, type Progress, speakerCounts, type TranscriptionJob, type Usage, type WebhookStatus } from "../../shared/api.ts";
import { stateTimes, type JobState, type StateTimes } from "./job-state.ts";
import type { JobRecord, RangeRecord } from "./job-store.ts";

/** The public JSON of a job, computed from its record and ranges at `now`. */
export function jobView(
  job: JobRecord,
  ranges: readonly RangeRecord[],
  webhook: WebhookStatus | null,
  /** What work that names no machine ran on: ranges finished before machines were labelled. */
  unlabelled: MachineLabel,
  now: number,
): TranscriptionJob {
  const s = job.state;
  const times = stateTimes(s);
  const progress = progressOf(s, ranges, times.started_at, now);
  const usage = usageOf(job, ranges, times, unlabelled, now);
  return {
    id: job.id,
    object: "transcription",
    status: s.status,
    audio_url: job.audio_url,
    ...(job.upload_id ? { upload_id: job.upload_id } : {}),
    created_at: iso(job.created_at),
    ...(times.started_at !== null ? { started_at: iso(times.started_at) } : {}),
    ...(times.completed_at !== null ? { completed_at: iso(times.completed_at) } : {}),
    ...(times.duration_sec !== null ? { audio_duration_sec: times.duration_sec } : {}),
    options: {
      language: job.options.language,
      macro_chunk_sec: job.options.macro_chunk_sec,
      micro_chunk_sec: job.options.micro_chunk_sec,
      word_timestamps: job.options.word_timestamps,
      ...(job.options.prompt !== undefined ? { prompt: job.options.prompt } : {}),
      task: job.options.task ?? "transcribe",
      temperature: job.options.temperature ?? 0,
      ...(job.options.diarize === true ? { diarize: true, ...speakerCounts(job.options) } : {}),
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

/**
 * Machine time and cost, per second of each task at the price of the machine
 * type that ran it, grouped by provider and type.
 */
function usageOf(job: JobRecord, ranges: readonly RangeRecord[], times: StateTimes, unlabelled: MachineLabel, now: number): Usage | undefined {
  const byMachine = new Map<string, MachineUsage>();
  const use = (label: MachineLabel, sec: number): MachineUsage => {
    const key = `${label.provider}\u0000${label.machine_type}\u0000${label.price_per_hour_usd}`;
    const entry = byMachine.get(key) ?? { ...label, machine_sec: 0, cost_usd: 0, plan: false, ranges: [] };
    entry.machine_sec += sec;
    entry.cost_usd += (sec / 3600) * label.price_per_hour_usd;
    byMachine.set(key, entry);
    return entry;
  };
  if (job.plan_machine_sec > 0) use(job.plan_machine ?? unlabelled, job.plan_machine_sec).plan = true;
  for (const r of ranges) if (r.state.status === "done") use(r.state.machine ?? unlabelled, r.state.machine_sec).ranges.push(r.idx);
  const machines = [...byMachine.values()];
  const machineSec = machines.reduce((sum, m) => sum + m.machine_sec, 0);
  if (machineSec <= 0 || times.started_at === null) return undefined;
  const wallSec = ((times.completed_at ?? now) - times.started_at) / 1000;
  const audioDone = ranges.reduce((sum, r) => sum + (r.state.status === "done" ? r.end_sec - r.start_sec : 0), 0);
  return {
    machine_sec: round1(machineSec),
    cost_usd: usd(machines.reduce((sum, m) => sum + m.cost_usd, 0)),
    speedup: wallSec > 0 ? round1(audioDone / wallSec) : 0,
    machines: machines.map((m) => ({ ...m, machine_sec: round1(m.machine_sec), cost_usd: usd(m.cost_usd) })),
  };
}

function usd(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
