import { PageError } from "./api.ts";

/** The page's elements, found once, and how messages and errors are shown in it. */

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el as T;
}

export const ui = {
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
  uploadProgress: byId("upload-progress"),
  uploadBar: byId("upload-progress").querySelector<HTMLElement>(".bar")!,
  uploadText: byId("upload-text"),
  language: byId<HTMLSelectElement>("language"),
  words: byId<HTMLInputElement>("words"),
  diarize: byId<HTMLInputElement>("diarize"),
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

export function show(el: HTMLElement, message: string | null): void {
  el.textContent = message ?? "";
  el.hidden = message === null;
}

/** An error in words a person can act on. */
export function explain(error: unknown): string {
  if (!(error instanceof PageError)) return "Something went wrong on this page. Reload it and try again.";
  if (error.status === 401) return `${error.message} Check the API key above.`;
  return error.message;
}
