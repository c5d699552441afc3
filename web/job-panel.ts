import { FINAL_STATUSES, type JobStatus, type TranscriptionJob, type TranscriptJson } from "../shared/api.ts";
import { followEventStream, type FollowOutcome, type OpenFailure } from "../shared/live-stream.ts";
import { type LiveChange, type LiveSegment, LiveTranscript } from "../shared/live-transcript.ts";
import { cancelJob, getJob, getUpload, openEvents, PageError, transcriptFile, transcriptJson } from "./api.ts";
import { clock, duration } from "./format.ts";
import { explain, show, ui } from "./page.ts";

/**
 * One job on the page: reads the job once, then follows its live events
 * (shared/live-stream.ts) until it ends, adding transcript lines as they are
 * merged and moving the bar with each progress event; draws the progress bar,
 * the transcript lines (each plays the recording from its start), downloads
 * and cancel. A server without live events is polled instead: the job, and
 * its partial transcript when progress moves.
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
  /** Stops the live events when another job is watched. */
  live: AbortController | null;
  /** The live events cannot be had: poll instead. */
  polling: boolean;
}
let watching: Watch | null = null;

let onEnded: () => void = () => undefined;

/** `ended` runs each time a watched job reaches its end. */
export function onJobEnded(ended: () => void): void {
  onEnded = ended;
}

export function watch(id: string): void {
  if (watching?.timer) clearTimeout(watching.timer);
  watching?.live?.abort();
  watching = { id, timer: null, lastDone: -1, lastStatus: null, transcriptAt: 0, starts: [], sourced: false, live: null, polling: false };
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
  showJobError(job);
  renderJob(job);
  if (!w.sourced) {
    w.sourced = true;
    void playerSource(job).then((src) => {
      if (watching === w && src) ui.player.src = src;
    });
  }
  const ended = FINAL_STATUSES.has(job.status);
  if (!ended && !w.polling) return void follow(w, job);
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

/**
 * The job's live events until it ends: each merge adds its lines where they
 * belong in time, a redone range takes its lines back, progress and status
 * redraw the bar. Nothing is fetched again while the stream works.
 */
async function follow(w: Watch, first: TranscriptionJob): Promise<void> {
  const model = new LiveTranscript();
  let job = first;
  w.live = new AbortController();
  renderTranscript(w, { segments: [] });
  const outcome: FollowOutcome | { kind: "failed" } = await followEventStream({
    open: (lastEventId, signal) => openEvents(w.id, lastEventId, signal),
    classify,
    onEvent: (e) => {
      if (watching !== w) return;
      for (const change of model.apply(e)) job = applyChange(w, job, change);
    },
    onDrop: () => model.dropPending(),
    signal: w.live.signal,
  }).catch(() => ({ kind: "failed" as const }));
  if (watching !== w || outcome.kind === "aborted") return;
  if (outcome.kind === "unavailable" || outcome.kind === "failed") {
    // An older server, a browser that cannot stream, or a network that kept failing: poll as before.
    w.polling = true;
    return void poll(w);
  }
  await finish(w, outcome.backlogMissing);
}

function applyChange(w: Watch, job: TranscriptionJob, change: LiveChange): TranscriptionJob {
  switch (change.kind) {
    case "added":
      for (const { at, segment } of change.added) {
        ui.segments.insertBefore(segmentItem(segment), ui.segments.children[at] ?? null);
        w.starts.splice(at, 0, segment.start_sec);
      }
      break;
    case "removed":
      for (let i = 0; i < change.removed.length; i++) ui.segments.children[change.at]?.remove();
      w.starts.splice(change.at, change.removed.length);
      break;
    case "progress":
      job = { ...job, progress: change.progress };
      renderJob(job);
      return job;
    case "status": {
      const { error: _, ...rest } = job;
      job = { ...rest, status: change.status, ...(change.error ? { error: change.error } : {}) };
      showJobError(job);
      renderJob(job);
      return job;
    }
    default:
      return change satisfies never;
  }
  ui.segmentCount.textContent = w.starts.length > 0 ? `(${w.starts.length} segments)` : "";
  return job;
}

/** The stream said the job ended: the job read once more, for what only it has (usage, times). */
async function finish(w: Watch, backlogMissing: boolean): Promise<void> {
  let job: TranscriptionJob;
  try {
    job = await getJob(w.id);
    // The stream gave only the end (it was away while the job finished): the transcript is read whole.
    if (backlogMissing) {
      const transcript = await transcriptJson(w.id, job.status !== "completed");
      if (watching === w) renderTranscript(w, transcript);
    }
  } catch (error) {
    if (watching === w) show(ui.jobError, explain(error));
    return;
  }
  if (watching !== w) return;
  showJobError(job);
  renderJob(job);
  ui.segments.setAttribute("aria-busy", "false");
  onEnded();
}

function classify(error: unknown): OpenFailure {
  if (!(error instanceof PageError)) return "fatal";
  // The job was just read, so a 404 here is a server without the route.
  if (error.code === "no_stream" || error.status === 404 || error.status === 405 || error.status === 501) return "unavailable";
  return error.status === 0 || error.status === 429 || error.status >= 500 ? "retry" : "fatal";
}

function showJobError(job: TranscriptionJob): void {
  show(ui.jobError, job.status === "failed" && job.error ? `The job failed: ${job.error.message} (${job.error.code})` : null);
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

function renderTranscript(w: Watch, t: Pick<TranscriptJson, "segments">): void {
  ui.segments.replaceChildren(...t.segments.map(segmentItem));
  w.starts = t.segments.map((s) => s.start_sec);
  ui.segmentCount.textContent = t.segments.length > 0 ? `(${t.segments.length} segments)` : "";
}

function segmentItem(s: Pick<LiveSegment, "start_sec" | "text" | "speaker">): HTMLLIElement {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "seg";
  button.dataset.start = String(s.start_sec);
  const time = document.createElement("time");
  time.textContent = clock(s.start_sec);
  const text = document.createElement("span");
  text.textContent = s.text;
  if (s.speaker !== undefined) {
    const who = document.createElement("b");
    who.className = "speaker";
    who.textContent = `${s.speaker} `;
    text.prepend(who);
  }
  button.append(time, text);
  button.setAttribute("aria-label", `${clock(s.start_sec)}${s.speaker !== undefined ? `, ${s.speaker}` : ""}: ${s.text}. Play from here.`);
  li.append(button);
  return li;
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
