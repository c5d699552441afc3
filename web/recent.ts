import { apiKey, listJobs } from "./api.ts";
import { watch } from "./job-panel.ts";
import { explain, ui } from "./page.ts";

/** The key's ten newest jobs; choosing one watches it. */
export async function refreshRecent(): Promise<void> {
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
        // An uploaded file's job reads it at …/uploads/{id}/content: its id says more than "content".
        open.textContent = job.upload_id ?? decodeURIComponent(job.audio_url.split("/").pop() || job.audio_url);
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
