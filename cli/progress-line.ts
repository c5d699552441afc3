import type { JobStatus, Progress } from "../shared/api.ts";

/** What one progress line shows: a poll's answer plus the ETA worked out for it. */
export interface ProgressView {
  status: JobStatus;
  progress: Progress;
  etaSec: number | undefined;
}

/** A poll remembered for the ETA: when it was seen and how much audio was done. */
export interface ProgressSample {
  atMs: number;
  doneSec: number;
}

/** mm:ss, or h:mm:ss from an hour on (recordings here run for many hours). */
export function clock(sec: number): string {
  const whole = Math.max(0, Math.round(sec));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  const mmss = `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

export function percent(progress: Progress): number {
  if (progress.audio_sec_total <= 0) return 0;
  return Math.min(100, (100 * progress.audio_sec_done) / progress.audio_sec_total);
}

/**
 * The API's own ETA when it gives one; otherwise the rate seen between the
 * first sample and now. Undefined until the rate is known, since a guess from
 * no progress would read as "never".
 */
export function estimateEtaSec(progress: Progress, first: ProgressSample | undefined, latest: ProgressSample): number | undefined {
  if (progress.eta_sec !== undefined) return progress.eta_sec;
  if (!first || latest.atMs <= first.atMs) return undefined;
  const rate = (latest.doneSec - first.doneSec) / ((latest.atMs - first.atMs) / 1000);
  if (!(rate > 0)) return undefined;
  return Math.max(0, progress.audio_sec_total - progress.audio_sec_done) / rate;
}

/** One plain line per change, for logs and pipes: no bar, no carriage return. */
export function plainLine(view: ProgressView): string {
  return `${view.status} ${details(view).join(", ")}`;
}

/**
 * When a plain line is worth printing again. The ETA is left out on purpose:
 * it moves on every poll and would print a line each time.
 */
export function changeKey(view: ProgressView): string {
  const p = view.progress;
  return `${view.status}|${p.audio_sec_done}|${p.audio_sec_total}|${p.ranges_done}|${p.ranges_total}`;
}

export const MIN_BAR = 10;
export const MAX_BAR = 30;

/**
 * The TTY line, redrawn in place. It must stay shorter than the terminal:
 * a wrapped line cannot be overwritten with a carriage return.
 */
export function progressBar(view: ProgressView, columns: number): string {
  const [head, ...rest] = details(view);
  const tail = ` ${head}  ${rest.join("  ")}`;
  const room = columns - 1 - view.status.length - 3 - tail.length;
  const width = Math.max(MIN_BAR, Math.min(MAX_BAR, room));
  const line = `${view.status} ${bar(percent(view.progress), width)}${tail}`;
  return fitLine(line, columns);
}

/** `[████░░░░]`, `width` cells filled in proportion to `pct`. */
export function bar(pct: number, width: number): string {
  const filled = Math.round((width * Math.min(100, Math.max(0, pct))) / 100);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}]`;
}

/** Cut to fit the terminal: a wrapped line cannot be overwritten with a carriage return. */
export function fitLine(line: string, columns: number): string {
  return [...line].slice(0, Math.max(1, columns - 1)).join("");
}

function details(view: ProgressView): string[] {
  const p = view.progress;
  const known = p.audio_sec_total > 0;
  const audio = known ? `${clock(p.audio_sec_done)} / ${clock(p.audio_sec_total)}` : "--:-- / --:--";
  return [
    `${audio} (${percent(p).toFixed(1)}%)`,
    `ETA ${view.etaSec === undefined ? "--:--" : clock(view.etaSec)}`,
    `ranges ${p.ranges_done}/${p.ranges_total}`,
  ];
}
