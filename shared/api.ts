import { z } from "zod";
import { idPattern } from "./ids.ts";
import { toWhisperLanguage, type WhisperLanguage } from "./languages.ts";

/** Public API v1: request and response bodies, validated at the edge. */

export const JOB_STATUSES = ["queued", "planning", "running", "completed", "failed", "canceled"] as const;
export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatus>;

/** Statuses a job never leaves. */
export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["completed", "failed", "canceled"]);

export const WEBHOOK_EVENT_TYPES = ["progress", "completed", "failed", "canceled"] as const;
export const WebhookEventType = z.enum(WEBHOOK_EVENT_TYPES);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

export const MAX_URL_LENGTH = 4096;
export const MAX_METADATA_BYTES = 4096;

const Language = z
  .string()
  .max(35)
  .transform((value, ctx): WhisperLanguage | "auto" | typeof z.NEVER => {
    if (value.trim().toLowerCase() === "auto") return "auto";
    const code = toWhisperLanguage(value);
    if (code) return code;
    ctx.addIssue({
      code: "custom",
      message: `unsupported language "${value}": use "auto" or an ISO 639-1 code Whisper knows, such as "en" or "de"`,
      params: { error_code: "unsupported_language" },
    });
    return z.NEVER;
  });

const Metadata = z.record(z.string(), z.unknown()).refine((m) => new TextEncoder().encode(JSON.stringify(m)).byteLength <= MAX_METADATA_BYTES, {
  message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
});

export const MAX_PROMPT_CHARS = 1000;
const Prompt = z.string().max(MAX_PROMPT_CHARS);
const PROMPT_DESCRIPTION = `Text to condition the model on, as Whisper's initial_prompt and OpenAI's prompt: spellings of names and terms, or a style (punctuation, case) to follow. At most ${MAX_PROMPT_CHARS} characters; only its last 223 tokens are used.`;
export const TranscriptionTask = z.enum(["transcribe", "translate"]);
export type TranscriptionTask = z.infer<typeof TranscriptionTask>;
const TASK_DESCRIPTION = '"translate" writes English whatever the language spoken; "transcribe" writes what is said in its own language.';
const Temperature = z.number().finite().min(0).max(1);
const TEMPERATURE_DESCRIPTION =
  "Sampling temperature of the first decode. 0 decodes greedily and retries hotter (0.2, 0.4, … 1.0) where the text is repetitive or unsure; a higher value starts that schedule there.";
export const MAX_SPEAKERS = 32;
const SpeakerCount = z.number().int().min(1).max(MAX_SPEAKERS);
const DIARIZE_DESCRIPTION =
  "Label who speaks when: each segment gets a `speaker` (S1, S2, … in order of first appearance across the whole recording), segments split where the speaker changes, and verbose_json lists the speakers with their talk time.";

export const CreateTranscriptionRequest = z.strictObject({
  audio_url: z
    .string()
    .min(1)
    .max(MAX_URL_LENGTH)
    .optional()
    .describe(
      "A public http(s) URL of the recording. The server must answer `Range: bytes=0-0` with 206 (most file hosts and signed storage URLs do). Give this or `upload_id`.",
    ),
  upload_id: z
    .string()
    .regex(idPattern("up"), "an upload id (up_…)")
    .optional()
    .describe("A completed upload of yours (`POST /v1/uploads`) to transcribe instead of an `audio_url`."),
  language: Language.default("auto").describe('"auto" to detect, or an ISO 639-1 code Whisper knows ("en", "de", "zh", …).'),
  webhook_url: z.string().min(1).max(MAX_URL_LENGTH).optional().describe("Where to POST signed events (https in production)."),
  webhook_events: z
    .array(WebhookEventType)
    .max(WEBHOOK_EVENT_TYPES.length)
    .optional()
    .describe("Which events to send; completed, failed and canceled are always sent when a webhook_url is given."),
  macro_chunk_sec: z
    .number()
    .finite()
    .min(60)
    .max(1800)
    .default(300)
    .describe("Target length of the ranges machines work on in parallel; ends move to silence."),
  micro_chunk_sec: z.number().finite().min(5).max(30).default(30).describe("Longest piece the model sees at once."),
  word_timestamps: z.boolean().default(false).describe("Add per-word times to verbose_json."),
  prompt: Prompt.optional().describe(PROMPT_DESCRIPTION),
  task: TranscriptionTask.default("transcribe").describe(TASK_DESCRIPTION),
  temperature: Temperature.default(0).describe(TEMPERATURE_DESCRIPTION),
  diarize: z.boolean().optional().describe(`${DIARIZE_DESCRIPTION} Off unless true.`),
  num_speakers: SpeakerCount.optional().describe("With `diarize`: exactly this many speakers."),
  min_speakers: SpeakerCount.optional().describe("With `diarize`: at least this many speakers."),
  max_speakers: SpeakerCount.optional().describe("With `diarize`: at most this many speakers."),
  metadata: Metadata.optional().describe(`Your own JSON, returned with the job and in webhooks (at most ${MAX_METADATA_BYTES} bytes).`),
});
export type CreateTranscriptionRequest = z.infer<typeof CreateTranscriptionRequest>;

/**
 * Why the speaker counts of a request cannot be honoured, naming the field, or
 * null when they can. Kept out of the schema so the OpenAPI document keeps one
 * plain object (a refinement would hide it from generated clients).
 */
export function speakerCountProblem(body: {
  diarize?: boolean | undefined;
  num_speakers?: number | undefined;
  min_speakers?: number | undefined;
  max_speakers?: number | undefined;
}): { param: string; message: string } | null {
  const given = (["num_speakers", "min_speakers", "max_speakers"] as const).filter((k) => body[k] !== undefined);
  if (given.length > 0 && body.diarize !== true) return { param: given[0]!, message: `${given[0]} needs diarize: true` };
  const { num_speakers: n, min_speakers: lo, max_speakers: hi } = body;
  if (lo !== undefined && hi !== undefined && lo > hi) return { param: "min_speakers", message: `min_speakers (${lo}) is above max_speakers (${hi})` };
  if (n !== undefined && lo !== undefined && n < lo) return { param: "num_speakers", message: `num_speakers (${n}) is below min_speakers (${lo})` };
  if (n !== undefined && hi !== undefined && n > hi) return { param: "num_speakers", message: `num_speakers (${n}) is above max_speakers (${hi})` };
  return null;
}
/** The request as a client writes it: defaults not yet applied. */
export type CreateTranscriptionRequestBody = z.input<typeof CreateTranscriptionRequest>;

/**
 * What a job keeps of its request (defaults applied, language normalised): one
 * shape stored by the job, shown in the job's `options` and sent with every task.
 */
export const TranscriptionOptions = z.object({
  language: z.string().min(2).max(8),
  macro_chunk_sec: z.number().positive(),
  micro_chunk_sec: z.number().positive(),
  word_timestamps: z.boolean(),
  // Optional: jobs stored before these existed have none (read them as no prompt, "transcribe", 0).
  prompt: Prompt.optional().describe(PROMPT_DESCRIPTION),
  task: TranscriptionTask.optional().describe(TASK_DESCRIPTION),
  temperature: Temperature.optional().describe(TEMPERATURE_DESCRIPTION),
  diarize: z.boolean().optional().describe(DIARIZE_DESCRIPTION),
  num_speakers: SpeakerCount.optional(),
  min_speakers: SpeakerCount.optional(),
  max_speakers: SpeakerCount.optional(),
});
export type TranscriptionOptions = z.infer<typeof TranscriptionOptions>;

export type SpeakerCounts = Pick<TranscriptionOptions, "num_speakers" | "min_speakers" | "max_speakers">;

/** The speaker counts that were given, and no keys for those that were not. */
export function speakerCounts(o: SpeakerCounts): SpeakerCounts {
  return {
    ...(o.num_speakers !== undefined ? { num_speakers: o.num_speakers } : {}),
    ...(o.min_speakers !== undefined ? { min_speakers: o.min_speakers } : {}),
    ...(o.max_speakers !== undefined ? { max_speakers: o.max_speakers } : {}),
  };
}

export const ApiErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), param: z.string().optional() }),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;

export const Progress = z.object({
  audio_sec_done: z.number(),
  audio_sec_total: z.number(),
  ranges_done: z.number().int(),
  ranges_total: z.number().int(),
  ranges_active: z.number().int().describe("Ranges being transcribed right now: one per machine working on this job."),
  eta_sec: z.number().optional().describe("Seconds to completion, from the job's own pace so far."),
});
export type Progress = z.infer<typeof Progress>;

/** The machine a task ran on, with the price it was charged at: priced when the task was handed out, so later price changes leave finished work alone. */
export const MachineLabel = z.object({
  provider: z.string().describe('"runpod", "fly", "local", or "unmanaged" for machines the service did not start itself.'),
  machine_type: z.string().describe('The GPU or guest it ran on: "NVIDIA L4", "performance-8x-16gb".'),
  price_per_hour_usd: z.number().nonnegative(),
});
export type MachineLabel = z.infer<typeof MachineLabel>;

export const MachineUsage = MachineLabel.extend({
  machine_sec: z.number(),
  cost_usd: z.number(),
  plan: z.boolean().describe("Whether this machine type planned the job (probed its length and cut its ranges)."),
  ranges: z.array(z.number().int()).describe("Indexes of the ranges this machine type transcribed."),
});
export type MachineUsage = z.infer<typeof MachineUsage>;

export const Usage = z.object({
  machine_sec: z.number(),
  cost_usd: z.number().describe("Machine seconds of each range times the hourly price of the machine type that ran it."),
  speedup: z.number(),
  machines: z.array(MachineUsage).optional().describe("Which provider and machine type did the plan and each range, and what each cost."),
});
export type Usage = z.infer<typeof Usage>;

export const WEBHOOK_DELIVERY_STATES = ["none", "pending", "delivered", "retrying", "failed"] as const;

export const WebhookStatus = z.object({
  url: z.string(),
  events: z.array(WebhookEventType),
  last_delivery_status: z.enum(WEBHOOK_DELIVERY_STATES),
  last_response_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
  last_attempt_at: z.string().nullable(),
  attempts: z.number().int(),
  recent_attempts: z.array(
    z.object({
      event_id: z.string(),
      type: WebhookEventType,
      attempt: z.number().int(),
      at: z.string(),
      response_status: z.number().int().nullable(),
      error: z.string().nullable(),
    }),
  ),
});
export type WebhookStatus = z.infer<typeof WebhookStatus>;

export const TranscriptionJob = z.object({
  id: z.string(),
  object: z.literal("transcription"),
  status: JobStatus,
  audio_url: z.string(),
  upload_id: z.string().optional().describe("The upload the job reads, when it was created with one."),
  created_at: z.string(),
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  audio_duration_sec: z.number().optional(),
  options: TranscriptionOptions,
  progress: Progress,
  usage: Usage.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  webhook: WebhookStatus.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type TranscriptionJob = z.infer<typeof TranscriptionJob>;

export const CreatedTranscription = z.object({
  id: z.string(),
  status: JobStatus,
  status_url: z.string(),
  transcript_url: z.string(),
  created_at: z.string(),
});
export type CreatedTranscription = z.infer<typeof CreatedTranscription>;

export const TranscriptionList = z.object({
  object: z.literal("list"),
  data: z.array(TranscriptionJob),
  has_more: z.boolean(),
  next_cursor: z.string().nullable(),
});
export type TranscriptionList = z.infer<typeof TranscriptionList>;

export const WebhookPayload = z.object({
  id: z.string(),
  type: z.string(),
  created_at: z.string(),
  data: TranscriptionJob,
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

/** GET …/transcript?format=json (verbose_json adds the segment scores, words and usage). */
export const TranscriptSegment = z.object({
  start_sec: z.number(),
  end_sec: z.number(),
  text: z.string(),
  language: z.string().describe("Whisper's language code"),
  bcp47: z.string().describe("The same language as a BCP 47 tag"),
  avg_logprob: z.number().optional(),
  no_speech_prob: z.number().optional(),
  compression_ratio: z.number().optional(),
  speaker: z.string().optional().describe("With `diarize`: who speaks (S1, S2, …); absent where no speaker was heard or its range is not finished."),
  words: z
    .array(z.object({ word: z.string(), start_sec: z.number(), end_sec: z.number(), probability: z.number(), speaker: z.string().optional() }))
    .optional(),
});
export const SpeakerSummary = z.object({
  label: z.string().describe("S1, S2, … in order of first appearance."),
  talk_sec: z.number().describe("Seconds this speaker talks (overlapping speech counts for each speaker)."),
});
export type SpeakerSummary = z.infer<typeof SpeakerSummary>;
export const TranscriptJson = z.object({
  text: z.string(),
  language: z.string().nullable(),
  segments: z.array(TranscriptSegment),
  audio_duration_sec: z.number().nullable(),
  usage: Usage.nullable().optional(),
  speakers: z.array(SpeakerSummary).optional().describe("verbose_json of a job with `diarize`: every speaker found."),
});
export type TranscriptJson = z.infer<typeof TranscriptJson>;

export type Metadata = NonNullable<CreateTranscriptionRequest["metadata"]>;
