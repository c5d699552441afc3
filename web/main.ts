import type { JobStatus, TranscriptionJob, TranscriptJson } from "../shared/api.ts";
import { apiKey, cancelJob, createJob, getJob, health, listJobs, PageError, transcriptFile, transcriptJson, uploadFile } from "./api.ts";
import { clock, duration } from "./format.ts";

/**
 * The web page: keep a key, submit a link or (local mode) a file, then watch the
 * job by polling its status and its partial transcript until it ends.
 */

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el as T;
}

const ui = {
  keyForm: byId<HTMLFormElement>("key-form"),
  keyInput: byId<HTMLInputElement>("api-key"),
  keyStatus: byId("key-status"),
  forgetKey: byId<HTMLButtonElement>("forget-key"),
  jobForm: byId<HTMLFormElement>("job-form"),
  srcUrl: byId<HTMLInputElement>("src-url"),
  srcFile: byId<HTMLInputElement>("src-file"),
  urlField: byId("url-field"),
  fileField: byId("file-field"),
  audioUrl: byId<HTMLInputElement>("audio-url"),
  audioFile: byId<HTMLInputElement>("audio-file"),
  fileHint: byId("file-hint"),
  language: byId<HTMLSelectElement>("language"),
  words: byId<HTMLInputElement>("words"),
  submit: byId<HTMLButtonElement>("submit"),
  formError: byId("form-error"),
  job: byId("job"),
  jobStatus: byId("job-status"),
  jobId: byId("job-id"),
  jobSource: byId("job-source"),
  progress: byId("progress"),
  bar: byId("progress").querySelector<HTMLElement>(".bar")!,
  progressText: byId("progress-text"),
  jobError: byId("job-error"),
  cancel: byId<HTMLButtonElement>("cancel"),
  downloads: byId("downloads"),
  player: byId<HTMLAudioElement>("player"),
  segments: byId<HTMLOListElement>("segments"),
  segmentCount: byId("segment-count"),
  recent: byId<HTMLUListElement>("recent"),
  recentEmpty: byId("recent-empty"),
  refreshRecent: byId<HTMLButtonElement>("refresh-recent"),
};

const POLL_MS = 1500;
const TERMINAL: readonly JobStatus[] = ["completed", "failed", "canceled"];
const EXTENSIONS: Record<string, string> = { text: "txt", srt: "srt", vtt: "vtt", json: "json" };

interface Watch {
  id: string;
  timer: number | null;
  lastDone: number;
  lastStatus: JobStatus | null;
  transcriptAt: number;
  starts: number[];
}
let watching: Watch | null = null;

function show(el: HTMLElement, message: string | null): void {
  el.textContent = message ?? "";
  el.hidden = message === null;
}

/** An error in words a person can act on. */
function explain(error: unknown): string {
  if (!(error instanceof PageError)) return "Something went wrong on this page. Reload it and try again.";
  if (error.status === 401) return `${error.message} Check the API key above.`;
  return error.message;
}

// --- API key -----------------------------------------------------------------

function showKeyState(): void {
  ui.keyInput.value = apiKey.get();
  ui.keyStatus.textContent = apiKey.get() ? "Saved in this browser only." : "Not set: enter the key you were given (npm start prints one).";
}

ui.keyForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const key = ui.keyInput.value.trim();
  if (!key) return;
  apiKey.set(key);
  showKeyState();
  void refreshRecent();
});
ui.forgetKey.addEventListener("click", () => {
  apiKey.forget();
  showKeyState();
  void refreshRecent();
});

// --- New transcription ---------------------------------------------------------

function sourceChanged(): void {
  const file = ui.srcFile.checked;
  ui.urlField.hidden = file;
  ui.fileField.hidden = !file;
}
ui.srcUrl.addEventListener("change", sourceChanged);
ui.srcFile.addEventListener("change", sourceChanged);

function invalid(input: HTMLInputElement, message: string): void {
  input.setAttribute("aria-invalid", "true");
  show(ui.formError, message);
  input.focus();
}

ui.jobForm.addEventListener("submit", (e) => {
  e.preventDefault();
  void submitJob();
});

async function submitJob(): Promise<void> {
  show(ui.formError, null);
  ui.audioUrl.removeAttribute("aria-invalid");
  ui.audioFile.removeAttribute("aria-invalid");
  if (!apiKey.get()) {
    show(ui.formError, "Enter your API key first.");
    ui.keyInput.focus();
    return;
  }
  let audioUrl: string;
  const file = ui.srcFile.checked ? ui.audioFile.files?.[0] : undefined;
  if (ui.srcFile.checked && !file) return invalid(ui.audioFile, "Choose a file to transcribe.");
  if (!file) {
    audioUrl = ui.audioUrl.value.trim();
    if (!/^https?:\/\/\S+$/i.test(audioUrl)) return invalid(ui.audioUrl, "Enter a link that starts with http:// or https://.");
  }
  ui.submit.disabled = true;
  try {
    if (file) {
      ui.submit.textContent = "Uploading…";
      audioUrl = await uploadFile(file, (f) => (ui.submit.textContent = `Uploading ${Math.round(f * 100)} %`));
    }
    ui.submit.textContent = "Checking the link…";
    const created = await createJob({ audio_url: audioUrl!, language: ui.language.value, word_timestamps: ui.words.checked });
    history.replaceState(null, "", `#${created.id}`);
    watch(created.id);
    void refreshRecent();
  } catch (error) {
    show(ui.formError, explain(error));
  } finally {
    ui.submit.disabled = false;
    ui.submit.textContent = "Transcribe";
  }
}

// --- Watching a job ----------------------------------------------------------------

function watch(id: string): void {
  if (watching?.timer) clearTimeout(watching.timer);
  watching = { id, timer: null, lastDone: -1, lastStatus: null, transcriptAt: 0, starts: [] };
  ui.job.hidden = false;
  ui.jobId.textContent = id;
  ui.jobSource.textContent = "";
  ui.segments.replaceChildren();
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
  const ended = TERMINAL.includes(job.status);
  const moved = job.progress.audio_sec_done !== w.lastDone || job.status !== w.lastStatus;
  // Long transcripts are larger: fetch the partial one less often as it grows.
  const every = Math.min(10_000, POLL_MS * (1 + Math.floor(w.starts.length / 500)));
  if ((moved && Date.now() - w.transcriptAt >= every) || (ended && w.lastStatus !== job.status)) {
    if (job.status !== "queued" && job.status !== "planning") {
      try {
        renderTranscript(w, await transcriptJson(w.id, job.status !== "completed"));
        w.transcriptAt = Date.now();
      } catch (error) {
        show(ui.jobError, explain(error));
      }
    }
    w.lastDone = job.progress.audio_sec_done;
  }
  w.lastStatus = job.status;
  if (!ended) w.timer = window.setTimeout(() => void poll(w), POLL_MS);
  else void refreshRecent();
}

function renderJob(job: TranscriptionJob): void {
  ui.jobStatus.textContent = job.status;
  ui.jobStatus.className = `badge ${job.status}`;
  ui.jobSource.textContent = `· ${job.audio_url}`;
  if (!ui.player.getAttribute("src")) ui.player.src = job.audio_url;
  const { audio_sec_done: done, audio_sec_total: total, eta_sec: eta, ranges_active: active } = job.progress;
  const pct = job.status === "completed" ? 100 : total > 0 ? Math.min(100, (100 * done) / total) : 0;
  ui.bar.style.width = `${pct}%`;
  ui.progress.setAttribute("aria-valuenow", String(Math.round(pct)));
  ui.progress.setAttribute("aria-valuetext", total > 0 ? `${clock(done)} of ${clock(total)}` : job.status);
  ui.progressText.textContent = progressLine(job, pct, done, total, eta, active);
  ui.cancel.hidden = TERMINAL.includes(job.status);
  ui.downloads.hidden = job.status !== "completed";
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
  ui.player.play().catch(() => show(ui.jobError, "The recording cannot be played in this browser (its server may not allow it); the transcript is unaffected."));
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

// --- Recent jobs ----------------------------------------------------------------------

async function refreshRecent(): Promise<void> {
  if (!apiKey.get()) {
    ui.recent.replaceChildren();
    ui.recentEmpty.textContent = "Enter your API key to see your transcriptions.";
    ui.recentEmpty.hidden = false;
    return;
  }
  try {
    const page = await listJobs(10);
    ui.recent.replaceChildren(
      ...page.data.map((job) => {
        const li = document.createElement("li");
        const open = document.createElement("button");
        open.type = "button";
        open.className = "quiet";
        open.textContent = decodeURIComponent(job.audio_url.split("/").pop() || job.audio_url);
        open.title = job.audio_url;
        open.addEventListener("click", () => {
          history.replaceState(null, "", `#${job.id}`);
          watch(job.id);
        });
        const status = document.createElement("span");
        status.className = `badge ${job.status}`;
        status.textContent = job.status;
        li.append(open, status);
        return li;
      }),
    );
    ui.recentEmpty.textContent = "None yet.";
    ui.recentEmpty.hidden = page.data.length > 0;
  } catch (error) {
    ui.recentEmpty.textContent = explain(error);
    ui.recentEmpty.hidden = false;
  }
}
ui.refreshRecent.addEventListener("click", () => void refreshRecent());

// --- Start --------------------------------------------------------------------------------

showKeyState();
sourceChanged();
void health().then(({ uploads }) => {
  ui.srcFile.disabled = !uploads;
  ui.fileHint.textContent = uploads
    ? "Sent to this local server, then transcribed like a link."
    : "Only in local mode (npm start); a deployed API takes links.";
  if (!uploads) ui.srcFile.title = "Only in local mode (npm start)";
});
void refreshRecent();
const fromHash = /^#(tr_[0-9a-z]+)$/.exec(location.hash);
if (fromHash?.[1]) watch(fromHash[1]);
