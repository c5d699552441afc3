import type { ApiErrorBody, CreatedTranscription, CreateTranscriptionRequestBody, TranscriptionJob, TranscriptionList, TranscriptJson } from "../shared/api.ts";
import type { z } from "zod";
import type { CreateMultipartUploadRequest, Upload } from "../shared/uploads.ts";

/** The page's client for this API: same origin, the key from local storage, errors in the API's own words. */

const KEY_STORAGE = "longscribe.api_key";

export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const apiKey = {
  get: (): string => localStorage.getItem(KEY_STORAGE) ?? "",
  set: (key: string): void => localStorage.setItem(KEY_STORAGE, key),
  forget: (): void => localStorage.removeItem(KEY_STORAGE),
};

async function failure(response: Response): Promise<PageError> {
  let body: Partial<ApiErrorBody> | null = null;
  try {
    body = (await response.json()) as Partial<ApiErrorBody>;
  } catch {
    // not JSON: a proxy or the network, not this API
  }
  if (body?.error) return new PageError(response.status, body.error.code, body.error.message);
  return new PageError(response.status, "http_error", `The server answered HTTP ${response.status}.`);
}

async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const key = apiKey.get();
  if (!key) throw new PageError(401, "no_key", "Enter your API key first.");
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new PageError(0, "network", "Could not reach the server. Check your connection and try again.");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function health(): Promise<{ uploads: boolean }> {
  const r = await fetch("/healthz");
  return r.ok ? ((await r.json()) as { uploads: boolean }) : { uploads: false };
}

export async function createJob(body: CreateTranscriptionRequestBody): Promise<CreatedTranscription> {
  return (await (await request("POST", "/v1/transcriptions", body)).json()) as CreatedTranscription;
}

export async function getJob(id: string): Promise<TranscriptionJob> {
  return (await (await request("GET", `/v1/transcriptions/${encodeURIComponent(id)}`)).json()) as TranscriptionJob;
}

export async function cancelJob(id: string): Promise<TranscriptionJob> {
  return (await (await request("POST", `/v1/transcriptions/${encodeURIComponent(id)}/cancel`)).json()) as TranscriptionJob;
}

export async function listJobs(limit: number): Promise<TranscriptionList> {
  return (await (await request("GET", `/v1/transcriptions?limit=${limit}`)).json()) as TranscriptionList;
}

export async function transcriptJson(id: string, partial: boolean): Promise<TranscriptJson> {
  return (await (
    await request("GET", `/v1/transcriptions/${encodeURIComponent(id)}/transcript?format=json${partial ? "&partial=true" : ""}`)
  ).json()) as TranscriptJson;
}

/**
 * The job's live events after `lastEventId`, read with fetch: EventSource
 * cannot send the key. A server without them (an older one), or a browser
 * that cannot stream a fetch, fails with `no_stream`, and the page polls.
 */
export async function openEvents(id: string, lastEventId: string | null, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
  const key = apiKey.get();
  if (!key) throw new PageError(401, "no_key", "Enter your API key first.");
  let response: Response;
  try {
    response = await fetch(`/v1/transcriptions/${encodeURIComponent(id)}/events`, {
      headers: { authorization: `Bearer ${key}`, accept: "text/event-stream", ...(lastEventId === null ? {} : { "last-event-id": lastEventId }) },
      cache: "no-store",
      signal,
    });
  } catch {
    throw new PageError(0, "network", "Lost the connection to the server; trying again…");
  }
  if (!response.ok) throw await failure(response);
  if (!response.body || !response.headers.get("content-type")?.startsWith("text/event-stream")) {
    await response.body?.cancel().catch(() => undefined);
    throw new PageError(response.status, "no_stream", "This server sends no live events.");
  }
  return response.body;
}

export async function transcriptFile(id: string, format: string): Promise<Blob> {
  return (await request("GET", `/v1/transcriptions/${encodeURIComponent(id)}/transcript?format=${encodeURIComponent(format)}`)).blob();
}

export async function createUpload(file: File): Promise<Upload> {
  const body: z.input<typeof CreateMultipartUploadRequest> = {
    multipart: true,
    size_bytes: file.size,
    content_type: file.type || "application/octet-stream",
    filename: file.name,
  };
  return (await (await request("POST", "/v1/uploads", body)).json()) as Upload;
}

export async function getUpload(id: string): Promise<Upload> {
  return (await (await request("GET", `/v1/uploads/${encodeURIComponent(id)}`)).json()) as Upload;
}

export async function completeUpload(id: string): Promise<Upload> {
  return (await (await request("POST", `/v1/uploads/${encodeURIComponent(id)}/complete`)).json()) as Upload;
}

/** One part of a multipart upload; XHR rather than fetch, since only XHR reports the bytes sent. */
export function putPart(id: string, partNumber: number, bytes: Blob, onSent: (loaded: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/v1/uploads/${encodeURIComponent(id)}/parts/${partNumber}`);
    xhr.setRequestHeader("authorization", `Bearer ${apiKey.get()}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (e) => onSent(e.loaded);
    xhr.onerror = () => reject(new PageError(0, "network", "The upload was interrupted. Check your connection."));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let body: Partial<ApiErrorBody> = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // handled below
      }
      reject(new PageError(xhr.status, body.error?.code ?? "http_error", body.error?.message ?? `The upload failed with HTTP ${xhr.status}.`));
    };
    xhr.send(bytes);
  });
}
