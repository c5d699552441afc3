import type {
  CreatedTranscription,
  CreateTranscriptionRequestBody,
  TranscriptionJob,
  TranscriptionList,
  TranscriptJson,
  WebhookPayload,
} from "../../shared/api.ts";
import type { Upload } from "../../shared/uploads.ts";
import type { ClaimResponse, CompleteRequest, FailRequest, HeartbeatRequest, HeartbeatResponse, SegmentsPost } from "../../shared/protocol.ts";

/**
 * Example payloads for the OpenAPI document. They are typed, and a test parses
 * each against the zod schema the API validates with, so they cannot drift.
 */
const AUDIO_URL = "https://media.example.com/podcasts/episode-412.mp3";

export const createRequest: CreateTranscriptionRequestBody = {
  audio_url: AUDIO_URL,
  language: "en",
  webhook_url: "https://hooks.example.com/longscribe",
  webhook_events: ["progress"],
  metadata: { episode: 412 },
};

export const upload: Upload = {
  id: "up_8x2kq4m9v7c3n1p5r6t0w2y4",
  object: "upload",
  status: "uploading",
  size_bytes: 5_368_709_120,
  content_type: "audio/mpeg",
  filename: "all-hands.mp3",
  part_size_bytes: 16_777_216,
  parts_total: 320,
  parts: [
    { part_number: 1, size_bytes: 16_777_216 },
    { part_number: 2, size_bytes: 16_777_216 },
  ],
  created_at: 1_795_960_931_000,
  expires_at: 1_796_220_131_000,
  content_url: null,
};

export const created: CreatedTranscription = {
  id: "tr_01JD3X9Q4V6M2T8K0Z5R7B1N3C",
  status: "queued",
  status_url: "https://api.example.com/v1/transcriptions/tr_01JD3X9Q4V6M2T8K0Z5R7B1N3C",
  transcript_url: "https://api.example.com/v1/transcriptions/tr_01JD3X9Q4V6M2T8K0Z5R7B1N3C/transcript",
  created_at: "2026-11-23T14:02:11.000Z",
};

export const runningJob: TranscriptionJob = {
  id: created.id,
  object: "transcription",
  status: "running",
  audio_url: AUDIO_URL,
  created_at: created.created_at,
  started_at: "2026-11-23T14:02:15.000Z",
  audio_duration_sec: 7254.3,
  options: { language: "en", macro_chunk_sec: 300, micro_chunk_sec: 30, word_timestamps: false },
  progress: { audio_sec_done: 2911.6, audio_sec_total: 7254.3, ranges_done: 9, ranges_total: 25, ranges_active: 4, eta_sec: 96 },
  metadata: { episode: 412 },
};

export const completedJob: TranscriptionJob = {
  ...runningJob,
  status: "completed",
  completed_at: "2026-11-23T14:05:02.000Z",
  progress: { audio_sec_done: 7254.3, audio_sec_total: 7254.3, ranges_done: 25, ranges_total: 25, ranges_active: 0 },
  usage: {
    machine_sec: 1188.4,
    cost_usd: 0.138666,
    speedup: 43.4,
    // A GPU shortage mid-job: the last three ranges ran on Fly's CPU guests.
    machines: [
      {
        provider: "runpod",
        machine_type: "NVIDIA L4",
        price_per_hour_usd: 0.43,
        machine_sec: 1050.2,
        cost_usd: 0.125441,
        plan: true,
        ranges: Array.from({ length: 22 }, (_, i) => i),
      },
      {
        provider: "fly",
        machine_type: "performance-8x-16gb",
        price_per_hour_usd: 0.3445,
        machine_sec: 138.2,
        cost_usd: 0.013225,
        plan: false,
        ranges: [22, 23, 24],
      },
    ],
  },
  webhook: {
    url: "https://hooks.example.com/longscribe",
    events: ["progress"],
    last_delivery_status: "delivered",
    last_response_status: 204,
    last_error: null,
    last_attempt_at: "2026-11-23T14:05:03.000Z",
    attempts: 4,
    recent_attempts: [{ event_id: "evt_01JD3XF2S8", type: "completed", attempt: 1, at: "2026-11-23T14:05:03.000Z", response_status: 204, error: null }],
  },
};

export const failedJob: TranscriptionJob = {
  ...runningJob,
  status: "failed",
  completed_at: "2026-11-23T14:03:40.000Z",
  error: { code: "media_changed", message: 'the file changed since the job planned it (ETag "a1" → "b7"); submit it again' },
};

export const list: TranscriptionList = { object: "list", data: [completedJob], has_more: true, next_cursor: "MTczMjM3MDUzMTAwMDp0cl8wMUpEM1g5UTRW" };

export const transcript: TranscriptJson = {
  text: "Welcome back to the show. Today we talk about long recordings.",
  language: "en",
  segments: [
    { start_sec: 0.52, end_sec: 2.84, text: "Welcome back to the show.", language: "en", bcp47: "en" },
    { start_sec: 3.1, end_sec: 5.96, text: "Today we talk about long recordings.", language: "en", bcp47: "en" },
  ],
  audio_duration_sec: 7254.3,
};

export const webhook: WebhookPayload = { id: "evt_01JD3XF2S8", type: "transcription.completed", created_at: "2026-11-23T14:05:02.000Z", data: completedJob };

export const claim: ClaimResponse = {
  tasks: [
    {
      kind: "range",
      job_id: created.id,
      task_id: `${created.id}.r9`,
      attempt: 1,
      lease_until: 1_795_442_595_000,
      lease_sec: 60,
      media_url: AUDIO_URL,
      options: { language: "en", macro_chunk_sec: 300, micro_chunk_sec: 30, word_timestamps: false },
      task_token: "tt1.eyJqIjoidHJfMDFKRDNYOVE0VjZNMlQ4SzBaNVI3QjFOM0MiLCJ0IjoiLnI5IiwiYSI6MX0.c2lnbmF0dXJl",
      range_index: 9,
      start_sec: 2702.4,
      end_sec: 3001.9,
      media: { container: "mp3", duration_sec: 7254.3, channels: 2, version: { size_bytes: 116_069_120, etag: '"a1"', last_modified: null } },
      language: "en",
    },
  ],
};

export const heartbeat: HeartbeatRequest = { version: 1, attempt: 1, audio_sec_done: 120.5 };
export const heartbeatAnswer: HeartbeatResponse = { continue: true, lease_until: 1_795_442_655_000 };
export const segments: SegmentsPost = {
  version: 1,
  attempt: 1,
  seq: 0,
  audio_sec_done: 30,
  segments: [{ start_sec: 2702.92, end_sec: 2705.24, text: " Welcome back to the show.", language: "en", avg_logprob: -0.21, no_speech_prob: 0.01 }],
  language_sec: { en: 28.4 },
};
export const complete: CompleteRequest = { version: 1, attempt: 1, machine_sec: 31.2 };
export const fail: FailRequest = { version: 1, attempt: 1, retryable: false, code: "not_media", message: "ffprobe found no audio stream" };
