import type { TranscriptionJob } from "../shared/api.ts";
import { clock, percent } from "./progress-line.ts";

/** `longscribe status`: the job as aligned "field  value" lines, only the fields it has. */
export function jobLines(job: TranscriptionJob): string[] {
  const p = job.progress;
  const rows: Array<[string, string | undefined]> = [
    ["id", job.id],
    ["status", job.status],
    ["audio", job.audio_url],
    ["language", job.options.language],
    ["duration", job.audio_duration_sec === undefined ? undefined : clock(job.audio_duration_sec)],
    [
      "progress",
      `${clock(p.audio_sec_done)} / ${p.audio_sec_total > 0 ? clock(p.audio_sec_total) : "--:--"} (${percent(p).toFixed(1)}%), ranges ${p.ranges_done}/${p.ranges_total}` +
        (p.eta_sec === undefined ? "" : `, ETA ${clock(p.eta_sec)}`),
    ],
    ["usage", job.usage && `${job.usage.machine_sec.toFixed(1)} machine s, $${job.usage.cost_usd.toFixed(4)}, ${job.usage.speedup.toFixed(1)}× real time`],
    // Which machines did the work: a GPU shortage shows here as CPU machines.
    [
      "machines",
      job.usage?.machines?.length
        ? job.usage.machines
            .map((m) => `${m.provider} ${m.machine_type} (${m.plan ? "plan, " : ""}${m.ranges.length} ranges, $${m.cost_usd.toFixed(4)})`)
            .join("; ")
        : undefined,
    ],
    ["error", job.error && `${job.error.code}: ${job.error.message}`],
    ["created", job.created_at],
    ["started", job.started_at],
    ["ended", job.completed_at],
  ];
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined);
  const width = Math.max(...shown.map(([name]) => name.length)) + 2;
  return shown.map(([name, value]) => `${name.padEnd(width)}${value}`);
}
