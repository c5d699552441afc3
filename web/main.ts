import { apiKey, createJob, health } from "./api.ts";
import { onJobEnded, watch } from "./job-panel.ts";
import { explain, show, ui } from "./page.ts";
import { refreshRecent } from "./recent.ts";
import { type SentFile, sendFile } from "./upload.ts";

/**
 * The web page: keep a key, submit a link or a file (uploaded in parts,
 * upload.ts), then watch the job (job-panel.ts) until it ends.
 */

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
  ui.uploadProgress.hidden = true;
  show(ui.uploadText, null);
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
    let sent: SentFile | undefined;
    if (file) {
      ui.submit.textContent = "Uploading…";
      sent = await sendFile(file, showUploadProgress, (note) => show(ui.uploadText, note));
    }
    ui.submit.textContent = sent ? "Starting…" : "Checking the link…";
    const options = { language: ui.language.value, word_timestamps: ui.words.checked, ...(ui.diarize.checked ? { diarize: true } : {}) };
    const created = await createJob(sent ? { upload_id: sent.uploadId, ...options } : { audio_url: audioUrl!, ...options });
    sent?.done();
    ui.uploadProgress.hidden = true;
    show(ui.uploadText, null);
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

function showUploadProgress(fraction: number): void {
  const pct = Math.round(fraction * 1000) / 10;
  ui.uploadProgress.hidden = false;
  ui.uploadBar.style.width = `${pct}%`;
  ui.uploadProgress.setAttribute("aria-valuenow", String(Math.round(pct)));
  ui.submit.textContent = `Uploading ${Math.floor(pct)} %`;
}

// --- Start --------------------------------------------------------------------------------

showKeyState();
sourceChanged();
void health().then(({ uploads }) => {
  ui.srcFile.disabled = !uploads;
  ui.fileHint.textContent = uploads
    ? "Sent to this server in parts, then transcribed. If the upload stops, choose the same file again to continue where it left off."
    : "This server does not take files; give a link instead.";
  if (!uploads) ui.srcFile.title = "This server does not take files";
});
onJobEnded(() => void refreshRecent());
void refreshRecent();
const fromHash = /^#(tr_[0-9a-z]+)$/.exec(location.hash);
if (fromHash?.[1]) watch(fromHash[1]);
