import { z } from "zod";
import { TranscriptionOptions } from "./api.ts";
import { Segment } from "./segment.ts";

/**
 * The machine protocol: what a GPU machine and the edge say to each other over
 * HTTP. Every request carries `version`; the edge refuses versions it does not
 * speak with 400 `invalid_request` naming `version`, so an old machine image fails loudly.
 */
export const PROTOCOL_VERSION = 1;
const Version = z.literal(PROTOCOL_VERSION);

const Seconds = z.number().finite().nonnegative();
const Attempt = z.number().int().min(1);

export const ClaimRequest = z.strictObject({
  version: Version,
  machine_id: z.string().min(1).max(128),
  /** Tasks the machine can take now (usually 1). */
  capacity: z.number().int().min(1).max(16),
});
export type ClaimRequest = z.infer<typeof ClaimRequest>;

/** A machine leaving (idle): the edge ends it with its provider at once, whatever the platform does with an exited process. */
export const ExitNotice = z.strictObject({
  version: Version,
  machine_id: z.string().min(1).max(128),
  reason: z.enum(["idle", "shutdown"]),
});
export type ExitNotice = z.infer<typeof ExitNotice>;

/** What the plan learned about the recording, handed to range tasks so they need not probe again. */
export const MediaHint = z.object({
  container: z.string().max(64),
  duration_sec: Seconds,
  channels: z.number().int().min(1).max(64),
  /** The file's version when planned; ranges read from another version fail with media_changed. */
  version: z.object({ size_bytes: z.number().int().min(0), etag: z.string().max(512).nullable(), last_modified: z.string().max(128).nullable() }).optional(),
});
export type MediaHint = z.infer<typeof MediaHint>;

const TaskBase = z.object({
  job_id: z.string(),
  task_id: z.string(),
  attempt: Attempt,
  /** Epoch milliseconds; heartbeat before then or the task goes to another machine. */
  lease_until: z.number().int(),
  lease_sec: z.number().positive(),
  media_url: z.string(),
  options: TranscriptionOptions,
  /** Bearer token for this task's posts; valid for this job, task and attempt only. */
  task_token: z.string(),
});

export const PlanTask = TaskBase.extend({ kind: z.literal("plan") });
export type PlanTask = z.infer<typeof PlanTask>;

export const RangeTask = TaskBase.extend({
  kind: z.literal("range"),
  range_index: z.number().int().min(0),
  start_sec: Seconds,
  end_sec: Seconds,
  media: MediaHint.nullable(),
  /** The language to force for this range, or null to detect it. */
  language: z.string().min(2).max(8).nullable(),
  /**
   * Edges of this range the plan left where they fell (a long file plans in a
   * second that way): the machine finds the quietest point within ±search_sec of
   * each, proposes it (POST …/boundaries) and transcribes between the edges the
   * edge answers, which its neighbour is given too. Absent: both edges are settled.
   */
  settle: z.object({ start: z.boolean(), end: z.boolean(), search_sec: z.number().positive().max(60) }).optional(),
});
export type RangeTask = z.infer<typeof RangeTask>;

export const Task = z.discriminatedUnion("kind", [PlanTask, RangeTask]);
export type Task = z.infer<typeof Task>;

export const ClaimResponse = z.object({ tasks: z.array(Task) });
export type ClaimResponse = z.infer<typeof ClaimResponse>;

export const HeartbeatRequest = z.strictObject({
  version: Version,
  attempt: Attempt,
  audio_sec_done: Seconds.optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z.discriminatedUnion("continue", [
  z.object({ continue: z.literal(true), lease_until: z.number().int() }),
  z.object({ continue: z.literal(false), reason: z.enum(["canceled", "superseded", "job_finished"]) }),
]);
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

export const SegmentsPost = z.strictObject({
  version: Version,
  attempt: Attempt,
  /** 0, 1, 2 … per attempt; a repeated seq is a retry and changes nothing. */
  seq: z.number().int().min(0).max(100_000),
  segments: z.array(Segment).max(2_000),
  /** Audio of the range processed so far, for progress. */
  audio_sec_done: Seconds,
  /** Speech seconds per detected language in this post, for the job's language vote. */
  language_sec: z
    .record(z.string().min(2).max(8), Seconds)
    .refine((r) => Object.keys(r).length <= 16, { message: "at most 16 languages per post" })
    .optional(),
});
export type SegmentsPost = z.infer<typeof SegmentsPost>;

export const PlanResult = z.strictObject({
  duration_sec: z.number().finite().positive(),
  ranges: z
    .array(z.strictObject({ start_sec: Seconds, end_sec: Seconds }))
    .min(1)
    .max(20_000),
  media: MediaHint,
  /** The inner boundaries are where they fell, not yet moved to quiet: each range task settles its own edges within ±this. */
  unsettled_search_sec: z.number().positive().max(60).optional(),
});
export type PlanResult = z.infer<typeof PlanResult>;

/**
 * One speaker a range's diarization found: what the job needs to match it with
 * the speakers of every other range (never audio). Its segments name it by `local`.
 */
export const RangeSpeakerReport = z.strictObject({
  local: z.string().min(1).max(32),
  /** A unit-length representation of the voice; cosine similarity compares two. */
  vector: z.array(z.number().finite()).min(1).max(512),
  talk_sec: Seconds,
  /** Absolute second of its first speech in the range. */
  first_sec: Seconds,
});
export type RangeSpeakerReport = z.infer<typeof RangeSpeakerReport>;

export const CompleteRequest = z.strictObject({
  version: Version,
  attempt: Attempt,
  /** Machine time the task took, for usage and cost. */
  machine_sec: Seconds,
  /** Plan tasks only. */
  plan: PlanResult.optional(),
  /** Range tasks of a job with `diarize`: the range's speakers (every `speaker` its segments named). */
  speakers: z.array(RangeSpeakerReport).max(64).optional(),
  /**
   * Range tasks of a job with `diarize`: who said each segment posted, as the
   * range's diarization decided once it had heard all of it (a segment's
   * `speaker` when posted was decided from what came before it). Per post
   * (`seq`), one local speaker per segment in the order posted; null for none.
   */
  relabel: z
    .array(z.strictObject({ seq: z.number().int().min(0), speakers: z.array(z.string().min(1).max(32).nullable()).max(2_000) }))
    .max(10_000)
    .optional(),
});
export type CompleteRequest = z.infer<typeof CompleteRequest>;
/** What a range task of a job with `diarize` completes with: its speakers, and who said each segment it posted. */
export type RangeDiarization = Pick<CompleteRequest, "speakers" | "relabel">;

/** A range task's proposals for its unsettled edges: the quietest points it found. */
export const SettleRequest = z.strictObject({
  version: Version,
  attempt: Attempt,
  start_sec: Seconds.optional(),
  end_sec: Seconds.optional(),
});
export type SettleRequest = z.infer<typeof SettleRequest>;

/** The range's edges as settled: the task's own proposals, or its neighbour's where that one was first. */
export const SettleResponse = z.object({ start_sec: Seconds, end_sec: Seconds });
export type SettleResponse = z.infer<typeof SettleResponse>;

export const FailRequest = z.strictObject({
  version: Version,
  attempt: Attempt,
  retryable: z.boolean(),
  code: z.string().min(1).max(64),
  message: z.string().max(2_000),
});
export type FailRequest = z.infer<typeof FailRequest>;
