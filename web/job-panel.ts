import { FINAL_STATUSES, type JobStatus, type TranscriptionJob, type TranscriptJson } from "../shared/api.ts";
import { cancelJob, getJob, getUpload, PageError, transcriptFile, transcriptJson } from "./api.ts";
import { clock, duration } from "./format.ts";
import { explain, show, ui } from "./page.ts";

/**
 * One job on the page: polls its status, and its partial transcript when
 * progress moves, until it ends; draws the progress bar, the transcript lines
 * (each plays the recording from its start), downloads and cancel.
 */

const POLL_MS = 1500;
const EXTENSIONS: Record<string, string> = { text: "txt", srt: "srt", vtt: "vtt", json: "json" };

interface Watch {
  id: string;
  timer: number | null;
  lastDone: number;
  lastStatus: JobStatus | null;
  transcriptAt: number;
  starts: number[];
  /** The player has been given the recording (or asked for it). */
  sourced: boolean;
}
let watching: Watch | null = null;

let onEnded: () => void = () => undefined;

/** `ended` runs each time a watched job reaches its end. */
export function onJobEnded(ended: () => void): void {
  onEnded = ended;
}

export function watch(id: string): void {
  if (watching?.timer) clearTimeout(watching.timer);
  watching = { id, timer: null, lastDone: -1, lastStatus: null, transcriptAt: 0, starts: [], sourced: false };
  ui.job.hidden = false;
  ui.jobId.textContent = id;
  ui.jobSource.textContent = "";
  ui.segments.replaceChildren();
  ui.segments.setAttribute("aria-busy", "true");
  ui.segmentCount.textContent = "";
  ui.player.removeAttribute("src");
  show(ui.jobError, null);
  ui.job.scrollIntoView({ behavior: "smooth", block: "start" });
  void poll(watching);
}

async function poll(w: Watch): Promise<void> {
  if (watching !== w) return;
  let job: TranscriptionJob;
  try {
    job = await getJob(w.id);
  } catch (error) {
    if (watching !== w) return;
    show(ui.jobError, explain(error));
    // A missing job or a refused key will not fix itself; the network might.
    if (error instanceof PageError && (error.status === 404 || error.status === 401)) return;
    w.timer = window.setTimeout(() => void poll(w), POLL_MS * 2);
    return;
  }
  if (watching !== w) return;
  show(ui.jobError, job.status === "failed" && job.error ? `The job failed: ${job.error.message} (${job.error.code})` : null);
  renderJob(job);
  if (!w.sourced) {
    w.sourced = true;
    void playerSource(job).then((src) => {
      if (watching === w && src) ui.player.src = src;
    });
  }
  const ended = FINAL_STATUSES.has(job.status);
  const moved = job.progress.audio_sec_done !== w.lastDone || job.status !== w.lastStatus;
  // Long transcripts are larger: fetch the partial one less often as it grows.
  const every = Math.min(10_000, POLL_MS * (1 + Math.floor(w.starts.length / 500)));
  if ((moved && Date.now() - w.transcriptAt >= every) || (ended && w.lastStatus !== job.status)) {
    if (job.status !== "queued" && job.status !== "planning") {
      try {
        const transcript = await transcriptJson(w.id, job.status !== "completed");
        if (watching !== w) return;
        renderTranscript(w, transcript);
        w.transcriptAt = Date.now();
      } catch (error) {
        show(ui.jobError, explain(error));
      }
    }
    w.lastDone = job.progress.audio_sec_done;
  }
  w.lastStatus = job.status;
  if (!ended) w.timer = window.setTimeout(() => void poll(w), POLL_MS);
  else {
    // The list is final now: assistive technology (and tests) may read it whole.
    ui.segments.setAttribute("aria-busy", "false");
    onEnded();
  }
}

function renderJob(job: TranscriptionJob): void {
  ui.jobStatus.textContent = job.status;
  ui.jobStatus.className = `badge ${job.status}`;
  ui.jobSource.textContent = `· ${job.audio_url}`;
  const { audio_sec_done: done, audio_sec_total: total, eta_sec: eta, ranges_active: active } = job.progress;
  const pct = job.status === "completed" ? 100 : total > 0 ? Math.min(100, (100 * done) / total) : 0;
  ui.bar.style.width = `${pct}%`;
  ui.progress.setAttribute("aria-valuenow", String(Math.round(pct)));
  ui.progress.setAttribute("aria-valuetext", total > 0 ? `${clock(done)} of ${clock(total)}` : job.status);
  ui.progressText.textContent = progressLine(job, pct, done, total, eta, active);
  ui.cancel.hidden = FINAL_STATUSES.has(job.status);
  ui.downloads.hidden = job.status !== "completed";
}

/**
 * An uploaded recording is read through the upload's signed content_url; the
 * job's audio_url for it carries no token (the browser would log the 403).
 */
async function playerSource(job: TranscriptionJob): Promise<string | null> {
  if (!job.upload_id) return job.audio_url;
  try {
    return (await getUpload(job.upload_id)).content_url;
  } catch {
    return null; // gone or expired: the transcript stands without the player
  }
}

function progressLine(job: TranscriptionJob, pct: number, done: number, total: number, eta: number | undefined, active: number): string {
  switch (job.status) {
    case "queued":
      return "Waiting for a machine to start…";
    case "planning":
      return "Measuring the recording and splitting it at pauses…";
    case "running": {
      const parts = [`${clock(done)} of ${clock(total)} transcribed (${Math.floor(pct)} %)`];
      if (eta !== undefined) parts.push(`about ${duration(eta)} left`);
      parts.push(active === 1 ? "1 machine working" : `${active} machines working`);
      return parts.join(" · ");
    }
    case "completed": {
      const took = job.started_at && job.completed_at ? (Date.parse(job.completed_at) - Date.parse(job.created_at)) / 1000 : null;
      return `Done: ${clock(total)} of audio${took !== null ? ` in ${duration(took)}` : ""}${job.usage ? ` (${job.usage.speedup.toFixed(1)}× real time)` : ""}.`;
    }
    case "failed":
      return "Stopped with an error; what was transcribed before it is below.";
    case "canceled":
      return "Canceled; what was transcribed before is below.";
    default:
      return job.status satisfies never;
  }
}

function renderTranscript(w: Watch, t: TranscriptJson): void {
  const items = t.segments.map((s) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "seg";
    button.dataset.start = String(s.start_sec);
    const time = document.createElement("time");
    time.textContent = clock(s.start_sec);
    const text = document.createElement("span");
    text.textContent = s.text;
    button.append(time, text);
    button.setAttribute("aria-label", `${clock(s.start_sec)}: ${s.text}. Play from here.`);
    li.append(button);
    return li;
  });
  ui.segments.replaceChildren(...items);
  w.starts = t.segments.map((s) => s.start_sec);
  ui.segmentCount.textContent = t.segments.length > 0 ? `(${t.segments.length} segments)` : "";
}

ui.segments.addEventListener("click", (e) => {
  const seg = (e.target as HTMLElement).closest<HTMLElement>(".seg");
  if (!seg?.dataset.start) return;
  ui.player.currentTime = Number(seg.dataset.start);
  ui.player
    .play()
    .catch(() => show(ui.jobError, "The recording cannot be played in this browser (its server may not allow it); the transcript is unaffected."));
});

ui.player.addEventListener("timeupdate", () => {
  // Loading the source fires this at 0:00 too; mark a line only once playback has begun.
  if (ui.player.paused && ui.player.currentTime === 0) return;
  const starts = watching?.starts ?? [];
  let lo = 0;
  let hi = starts.length - 1;
  let at = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! <= ui.player.currentTime) {
      at = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  ui.segments.querySelector(".seg.playing")?.classList.remove("playing");
  if (at >= 0) ui.segments.children[at]?.querySelector(".seg")?.classList.add("playing");
});

ui.cancel.addEventListener("click", async () => {
  const w = watching;
  if (!w) return;
  ui.cancel.disabled = true;
  try {
    renderJob(await cancelJob(w.id));
  } catch (error) {
    show(ui.jobError, explain(error));
  } finally {
    ui.cancel.disabled = false;
  }
});

ui.downloads.addEventListener("click", async (e) => {
  const format = (e.target as HTMLElement).closest<HTMLButtonElement>("button")?.dataset.format;
  if (!format || !watching) return;
  try {
    const blob = await transcriptFile(watching.id, format);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${watching.id}.${EXTENSIONS[format] ?? format}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  } catch (error) {
    show(ui.jobError, explain(error));
  }
});
