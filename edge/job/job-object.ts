import { DurableObject } from "cloudflare:workers";
import type { MachineLabel, TranscriptionJob, TranscriptionOptions, WebhookEventType } from "../../shared/api.ts";
import { assertNever } from "../../shared/assert-never.ts";
import { CONTENT_TYPES, renderTranscript, type TranscriptFormat } from "../../shared/formats/render.ts";
import { clampToRange, decideBatch } from "../../shared/merge.ts";
import type { Segment } from "../../shared/segment.ts";
import { readConfig } from "../config.ts";
import { fail, ok, type Result } from "../errors.ts";
import type { MediaInfo } from "../media-check.ts";
import { deriveWebhookSecret } from "../webhooks/signing.ts";
import { WEBHOOK_TIMEOUT_MS } from "../webhooks/delivery.ts";
import { Deadlines } from "./deadlines.ts";
import { isTerminal, stateTimes, transition, type JobError, type JobEvent, type JobState } from "./job-state.ts";
import { JobStore, type JobRecord } from "./job-store.ts";
import { jobView } from "./job-view.ts";
import type { MediaHint } from "../../shared/protocol.ts";
import { queueStub } from "../job-stubs.ts";
import type { JobWork, UnsignedTask } from "../queue/queue-object.ts";
import { unmanagedLabel } from "../machines/prices.ts";
import { INITIAL_RANGE, rangeTransition, type RangeEvent, type RangeState } from "./range-state.ts";
import { hasSchema, migrate } from "./schema.ts";
import { streamText } from "./stream-text.ts";
import { WebhookOutbox } from "./webhook-outbox.ts";

/** What the Worker knows when it creates a job; the rest of the record starts empty. */
export type CreateJobInput = Omit<JobRecord, "state" | "plan_machine_sec" | "plan_machine" | "last_progress_event_at" | "plan_media" | "settled_language">;

export interface TranscriptBody {
  content_type: string;
  body: ReadableStream<Uint8Array>;
}

export interface PlanTask {
  job_id: string;
  attempt: number;
  lease_until: number;
  media_url: string;
  media: MediaInfo;
  options: TranscriptionOptions;
}

export interface PlannedRange {
  start_sec: number;
  end_sec: number;
}

export interface RangeTask extends PlanTask {
  range_index: number;
  start_sec: number;
  end_sec: number;
}

export interface SegmentPost {
  range_index: number;
  attempt: number;
  seq: number;
  segments: Segment[];
  audio_sec_done: number;
  /** Speech seconds per detected language in this post, for the language vote. */
  language_sec?: Record<string, number>;
}

export type HeartbeatAnswer =
  | { continue: true; lease_until: number }
  | { continue: false; reason: "canceled" | "superseded" | "job_finished" };

export interface TaskFailure {
  retryable: boolean;
  code: string;
  message: string;
}

/** The language vote settles once this much speech has voted, with this share for the leader. */
const LANGUAGE_VOTE_MIN_SEC = 60;
const LANGUAGE_VOTE_SHARE = 0.6;
const LANGUAGE_REDO_SHARE = 0.8;
/** Progress webhooks, when asked for, come at most this often. */
const PROGRESS_WEBHOOK_INTERVAL_MS = 60_000;
/** Alarm handlers that throw are tried again this much later rather than in a hot loop. */
const DEADLINE_RETRY_MS = 30_000;

/**
 * One Durable Object per job (named by the job id), holding the job, its
 * ranges, the merged segments and its webhook outbox in SQLite. Public-API
 * methods take the caller's key id and answer not_found to anyone else.
 * Machine-facing methods are typed RPC; their HTTP routes come with the queue.
 */
export class JobObject extends DurableObject<Env> {
  private readonly store: JobStore;
  private readonly deadlines: Deadlines;
  private readonly outbox: WebhookOutbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new JobStore(ctx.storage.sql);
    this.deadlines = new Deadlines(ctx.storage);
    this.outbox = new WebhookOutbox(ctx.storage.sql, this.deadlines);
    void ctx.blockConcurrencyWhile(async () => {
      if (hasSchema(ctx.storage.sql)) migrate(ctx.storage.sql);
    });
  }

  // ---- public API -------------------------------------------------------

  async create(input: CreateJobInput): Promise<Result<TranscriptionJob>> {
    const existing = this.store.readJob();
    if (existing) return existing.owner === input.owner ? ok(this.view(existing)) : notFound();
    migrate(this.ctx.storage.sql);
    this.store.insertJob({ ...input, state: { status: "queued", plan_failures: 0 }, plan_machine_sec: 0, plan_machine: null, last_progress_event_at: null, plan_media: null, settled_language: null });
    await this.notifyQueue();
    return ok(this.view(this.store.readJob()!));
  }

  async get(owner: string): Promise<Result<TranscriptionJob>> {
    const job = this.owned(owner);
    return job ? ok(this.view(job)) : notFound();
  }

  async cancel(owner: string): Promise<Result<TranscriptionJob>> {
    const job = this.owned(owner);
    if (!job) return notFound();
    const result = await this.apply({ type: "cancel", at: Date.now() });
    if (!result.ok) return fail(409, "job_finished", `the job is already ${job.state.status} and cannot be canceled`);
    return ok(this.view(this.store.readJob()!));
  }

  /** Erases everything the object stores, alarm included. */
  async erase(owner: string): Promise<Result<null>> {
    if (!this.owned(owner)) return notFound();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    return ok(null);
  }

  async transcript(owner: string, format: TranscriptFormat, partial: boolean): Promise<Result<TranscriptBody>> {
    const job = this.owned(owner);
    if (!job) return notFound();
    if (job.state.status !== "completed" && !partial) {
      return fail(409, "not_ready", `the transcript is not ready: the job is ${job.state.status}; pass partial=true for what is merged so far`);
    }
    const meta = {
      language: job.options.language !== "auto" ? job.options.language : this.store.dominantLanguage(),
      audio_duration_sec: stateTimes(job.state).duration_sec,
      usage: this.view(job).usage ?? null,
    };
    const chunks = renderTranscript(format, meta, () => asAsync(this.store.segmentsInOrder()));
    return ok({ content_type: CONTENT_TYPES[format], body: streamText(chunks) });
  }

  // ---- machine-facing RPC --------------------------------------------------

  async startPlan(machineId: string, leaseSec: number, machine: MachineLabel = unlabelled(this.env)): Promise<Result<PlanTask>> {
    const now = Date.now();
    const result = await this.apply({ type: "plan_started", at: now, machine_id: machineId, machine }, () => {
      this.deadlines.set("plan_lease", "plan", now + leaseSec * 1000);
    });
    if (!result.ok) return fail(409, "not_plannable", result.reason);
    const job = this.store.readJob()!;
    const attempt = job.state.status === "planning" ? job.state.attempt : 0;
    return ok({ ...this.taskBase(job), attempt, lease_until: now + leaseSec * 1000 });
  }

  async submitPlan(attempt: number, durationSec: number, ranges: PlannedRange[], machineSec: number, media: MediaHint | null = null): Promise<Result<TranscriptionJob>> {
    const job = this.store.readJob();
    if (!job) return notFound();
    if (job.state.status !== "planning" || job.state.attempt !== attempt) return stale("plan", attempt);
    const invalid = checkPlan(durationSec, ranges);
    if (invalid) return fail(400, "invalid_plan", invalid);
    const result = await this.apply({ type: "planned", at: Date.now(), duration_sec: durationSec, ranges: ranges.length }, () => {
      this.store.insertRanges(ranges, INITIAL_RANGE);
      this.store.addPlanMachineSec(machineSec, job.state.status === "planning" ? (job.state.machine ?? null) : null);
      if (media) this.store.setPlanMedia(media);
      this.deadlines.clear("plan_lease");
    });
    if (!result.ok) return fail(409, "not_plannable", result.reason);
    return ok(this.view(this.store.readJob()!));
  }

  async heartbeatPlan(attempt: number, leaseSec: number): Promise<Result<HeartbeatAnswer>> {
    const job = this.store.readJob();
    if (!job) return notFound();
    const stop = stopReason(job.state);
    if (stop) return ok(stop);
    if (job.state.status !== "planning" || job.state.attempt !== attempt) return ok({ continue: false, reason: "superseded" });
    const leaseUntil = Date.now() + leaseSec * 1000;
    this.deadlines.set("plan_lease", "plan", leaseUntil);
    await this.deadlines.arm();
    return ok({ continue: true, lease_until: leaseUntil });
  }

  async failPlan(attempt: number, failure: TaskFailure): Promise<Result<null>> {
    const job = this.store.readJob();
    if (!job) return notFound();
    if (job.state.status !== "planning" || job.state.attempt !== attempt) return stale("plan", attempt);
    await this.apply({ type: "plan_lost", at: Date.now(), retryable: failure.retryable, error: { code: failure.code, message: failure.message } }, () =>
      this.deadlines.clear("plan_lease"),
    );
    return ok(null);
  }

  async leaseRange(machineId: string, leaseSec: number, machine: MachineLabel = unlabelled(this.env)): Promise<Result<RangeTask | null>> {
    const job = this.store.readJob();
    if (!job) return notFound();
    if (job.state.status !== "running") return ok(null);
    const range = this.store.firstPendingRange();
    if (!range) return ok(null);
    const now = Date.now();
    const leaseUntil = now + leaseSec * 1000;
    const leased = this.changeRange(range.idx, range.state, { type: "lease", at: now, machine_id: machineId, machine, lease_until: leaseUntil }, () => {
      this.store.dropRangeSegments(range.idx);
      this.deadlines.set("range_lease", String(range.idx), leaseUntil);
    });
    if (!leased.ok) return leased;
    await this.deadlines.arm();
    return ok({ ...this.taskBase(job), attempt: leased.value.attempt, lease_until: leaseUntil, range_index: range.idx, start_sec: range.start_sec, end_sec: range.end_sec });
  }

  async heartbeatRange(rangeIndex: number, attempt: number, leaseSec: number): Promise<Result<HeartbeatAnswer>> {
    const job = this.store.readJob();
    const range = this.store.readRange(rangeIndex);
    if (!job || !range) return notFound();
    const stop = stopReason(job.state);
    if (stop) return ok(stop);
    if (range.state.status !== "leased" || range.state.attempt !== attempt) return ok({ continue: false, reason: "superseded" });
    const leaseUntil = Date.now() + leaseSec * 1000;
    const changed = this.changeRange(range.idx, range.state, { type: "heartbeat", lease_until: leaseUntil }, () =>
      this.deadlines.set("range_lease", String(range.idx), leaseUntil),
    );
    if (!changed.ok) return changed;
    await this.deadlines.arm();
    return ok({ continue: true, lease_until: leaseUntil });
  }

  async postSegments(post: SegmentPost): Promise<Result<{ status: "accepted" | "duplicate" }>> {
    const job = this.store.readJob();
    const range = this.store.readRange(post.range_index);
    if (!job || !range) return notFound();
    const open = range.state.status === "leased" && !isTerminal(job.state);
    const view = { index: range.idx, start_sec: range.start_sec, end_sec: range.end_sec, attempt: range.state.attempt, open };
    const decision = decideBatch(view, post, this.store.seenSeqs(range.idx, post.attempt));
    switch (decision.kind) {
      case "stale":
        return stale(`range ${range.idx}`, post.attempt, decision.current_attempt);
      case "duplicate":
        return ok({ status: "duplicate" });
      case "closed":
        return fail(409, "range_closed", `range ${range.idx} is ${range.state.status} and takes no more segments`);
      case "accept":
        break;
      default:
        return assertNever(decision);
    }
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.store.insertBatch(range.idx, post.attempt, post.seq, now, post.segments.map((s) => clampToRange(s, view)));
      if (post.language_sec) this.store.addLanguageSeconds(range.idx, post.language_sec);
      if (range.state.status === "leased") {
        const next = rangeTransition(range.state, { type: "progress", audio_sec_done: post.audio_sec_done });
        if (next.ok) this.store.writeRange(range.idx, next.state);
      }
      this.maybeProgressWebhook(now);
    });
    await this.deadlines.arm();
    return ok({ status: "accepted" });
  }

  async completeRange(rangeIndex: number, attempt: number, machineSec: number | null): Promise<Result<TranscriptionJob>> {
    const found = this.leasedRange(rangeIndex, attempt);
    if (!found.ok) return found;
    const now = Date.now();
    const changed = this.changeRange(rangeIndex, found.value, { type: "complete", at: now, machine_sec: machineSec }, () =>
      this.deadlines.clear("range_lease", String(rangeIndex)),
    );
    if (!changed.ok) return changed;
    if (this.store.countRangesNot("done") === 0 && !this.redoDisagreeingRanges()) await this.apply({ type: "ranges_done", at: now });
    else await this.notifyQueue(); // one range less in flight, for the fleet's size
    await this.deadlines.arm();
    return ok(this.view(this.store.readJob()!));
  }

  async failRange(rangeIndex: number, attempt: number, failure: TaskFailure): Promise<Result<TranscriptionJob>> {
    const found = this.leasedRange(rangeIndex, attempt);
    if (!found.ok) return found;
    const error = { code: failure.code, message: failure.message };
    return this.loseRange(rangeIndex, found.value, { type: "report_failure", at: Date.now(), retryable: failure.retryable, error });
  }

  /**
   * The queue's one question: the next task of this job for a machine (a plan
   * while queued, else the first pending range), and what is left after it.
   */
  async leaseNext(machineId: string, leaseSec: number, machine: MachineLabel): Promise<Result<{ task: UnsignedTask | null; work: JobWork }>> {
    const job = this.store.readJob();
    if (!job) return notFound();
    let task: UnsignedTask | null = null;
    this.quietQueue = true;
    try {
      if (job.state.status === "queued") {
        const plan = await this.startPlan(machineId, leaseSec, machine);
        if (plan.ok) task = { kind: "plan", ...this.taskFields(job, `${job.id}.plan`, plan.value.attempt, plan.value.lease_until, leaseSec) };
      } else if (job.state.status === "running") {
        const range = await this.leaseRange(machineId, leaseSec, machine);
        if (range.ok && range.value) {
          const r = range.value;
          task = {
            kind: "range",
            ...this.taskFields(job, `${job.id}.r${r.range_index}`, r.attempt, r.lease_until, leaseSec),
            range_index: r.range_index,
            start_sec: r.start_sec,
            end_sec: r.end_sec,
            media: job.plan_media,
            language: this.rangeLanguage(job),
          };
        }
      }
    } finally {
      this.quietQueue = false;
    }
    return ok({ task, work: this.work() });
  }

  // ---- alarm ------------------------------------------------------------------

  override async alarm(): Promise<void> {
    // The alarm fires at (or after) the earliest deadline, so that deadline is
    // due by definition; taking it as "now" keeps forced alarms in tests exact.
    const now = Math.max(Date.now(), this.deadlines.earliest() ?? 0);
    for (const d of this.deadlines.due(now)) {
      try {
        switch (d.kind) {
          case "webhook":
            await this.deliverWebhook(d.ref, now);
            break;
          case "range_lease":
            await this.expireRangeLease(Number(d.ref), now);
            break;
          case "plan_lease":
            await this.expirePlanLease(now);
            break;
          case "queue_notify":
            this.deadlines.clear("queue_notify", d.ref);
            await this.notifyQueue();
            break;
          default:
            assertNever(d.kind);
        }
      } catch (error) {
        console.error(`deadline ${d.kind}:${d.ref} failed`, error);
        this.deadlines.set(d.kind, d.ref, now + DEADLINE_RETRY_MS);
      }
    }
    await this.deadlines.arm();
  }

  private async deliverWebhook(eventId: string, now: number): Promise<void> {
    // The row stays while the attempt is in flight, moved past its timeout: if the
    // object is evicted mid-request the event is tried again, and nobody reading
    // the table meanwhile sees a pending event with no deadline.
    this.deadlines.set("webhook", eventId, now + WEBHOOK_TIMEOUT_MS + DEADLINE_RETRY_MS);
    const job = this.store.readJob();
    if (!job?.webhook) return this.deadlines.clear("webhook", eventId);
    const config = readConfig(this.env);
    const secret = await deriveWebhookSecret(config.webhookSigningKey, job.owner);
    await this.outbox.attempt(eventId, job.webhook, secret, { allowLoopback: config.allowLoopbackUrls }, now);
  }

  private async expireRangeLease(index: number, now: number): Promise<void> {
    const range = this.store.readRange(index);
    if (!range || range.state.status !== "leased" || range.state.lease_until > now) {
      this.deadlines.clear("range_lease", String(index));
      if (range?.state.status === "leased") this.deadlines.set("range_lease", String(index), range.state.lease_until);
      return;
    }
    await this.loseRange(index, range.state, { type: "lease_expired", at: now });
  }

  private async expirePlanLease(now: number): Promise<void> {
    this.deadlines.clear("plan_lease");
    const job = this.store.readJob();
    if (job?.state.status !== "planning") return;
    const error = { code: "machine_lost", message: `planning machine ${job.state.machine_id} stopped sending heartbeats` };
    await this.apply({ type: "plan_lost", at: now, retryable: true, error });
  }

  // ---- internals -------------------------------------------------------------

  /** Set while the queue itself is asking (leaseNext): it learns the work from the answer. */
  private quietQueue = false;

  private work(): JobWork {
    const job = this.store.readJob();
    const none = { pending: 0, pending_audio_sec: 0, leased: 0, leased_audio_sec: 0, machines: [] };
    if (!job) return none;
    switch (job.state.status) {
      case "queued":
        return { ...none, pending: 1 };
      case "planning":
        return { ...none, leased: 1, machines: [job.state.machine_id] };
      case "running": {
        const pending = this.store.countRanges("pending");
        const leased = this.store.countRanges("leased");
        return { pending: pending.n, pending_audio_sec: pending.audio_sec, leased: leased.n, leased_audio_sec: leased.audio_sec, machines: this.store.leasedMachineIds() };
      }
      case "completed":
      case "failed":
      case "canceled":
        return none;
      default:
        return assertNever(job.state);
    }
  }

  /**
   * Tells the queue what this job has to hand out. A failed call is retried from
   * the alarm, so work is never stranded by a lost notification.
   */
  private async notifyQueue(): Promise<void> {
    if (this.quietQueue) return;
    const job = this.store.readJob();
    if (!job) return;
    try {
      await queueStub(this.env).update(job.id, job.created_at, this.work());
    } catch (error) {
      console.error("queue update failed; retrying from the alarm", error);
      this.deadlines.set("queue_notify", "queue", Date.now() + 1_000);
      await this.deadlines.arm();
    }
  }

  /**
   * With language "auto", once every range is done the vote settles the job's
   * language. Ranges decoded before it settled whose own language disagrees go
   * round again with it forced, once. Only for a clearly one-language recording
   * (the leader has ≥ 80 % of the speech): in a bilingual one each range keeps its own.
   * Returns whether any range was sent back.
   */
  private redoDisagreeingRanges(): boolean {
    const job = this.store.readJob();
    if (!job || job.options.language !== "auto" || job.settled_language) return false;
    const vote = this.store.languageVote();
    const total = vote.reduce((sum, v) => sum + v.sec, 0);
    const leader = vote[0];
    if (!leader || leader.sec / total < LANGUAGE_REDO_SHARE) return false;
    const disagreeing = this.store.rangeLanguages().filter((r) => r.language !== leader.language);
    this.ctx.storage.transactionSync(() => {
      this.store.setSettledLanguage(leader.language);
      for (const r of disagreeing) {
        const range = this.store.readRange(r.range_idx);
        if (!range) continue;
        const reason = { code: "language_vote", message: `range ${r.range_idx} came out in ${r.language}; the recording is ${leader.language}` };
        const next = rangeTransition(range.state, { type: "redo", reason });
        if (!next.ok) continue;
        this.store.writeRange(r.range_idx, next.state);
        this.store.dropRangeSegments(r.range_idx);
      }
    });
    if (disagreeing.length > 0) void this.notifyQueue();
    return disagreeing.length > 0;
  }

  private taskFields(job: JobRecord, taskId: string, attempt: number, leaseUntil: number, leaseSec: number) {
    return { job_id: job.id, task_id: taskId, attempt, lease_until: leaseUntil, lease_sec: leaseSec, media_url: job.audio_url, options: job.options };
  }

  /**
   * The language a new range task must use: the requested one, or, with "auto",
   * the vote's winner once it is clear (at least 60 s of speech and 60 % of it),
   * else null so the machine detects it.
   */
  private rangeLanguage(job: JobRecord): string | null {
    if (job.options.language !== "auto") return job.options.language;
    if (job.settled_language) return job.settled_language;
    const vote = this.store.languageVote();
    const total = vote.reduce((sum, v) => sum + v.sec, 0);
    const leader = vote[0];
    return leader && total >= LANGUAGE_VOTE_MIN_SEC && leader.sec / total >= LANGUAGE_VOTE_SHARE ? leader.language : null;
  }

  private owned(owner: string): JobRecord | null {
    const job = this.store.readJob();
    return job && job.owner === owner ? job : null;
  }

  private view(job: JobRecord, now = Date.now()): TranscriptionJob {
    const webhook = job.webhook ? this.outbox.status(job.webhook) : null;
    return jobView(job, this.store.readRanges(), webhook, unlabelled(this.env), now);
  }

  private taskBase(job: JobRecord) {
    return { job_id: job.id, media_url: job.audio_url, media: job.media, options: job.options };
  }

  /**
   * The one way the job's state changes: the pure transition, then one write
   * of the new state together with its consequences (`also`, webhook events,
   * dropped leases) in a single transaction.
   */
  private async apply(event: JobEvent, also?: () => void) {
    const job = this.store.readJob();
    if (!job) return { ok: false as const, reason: "no such job" };
    const result = transition(job.state, event);
    if (!result.ok || !result.changed) return result;
    this.ctx.storage.transactionSync(() => {
      this.store.writeState(result.state);
      also?.();
      if (isTerminal(result.state)) {
        this.deadlines.clear("range_lease");
        this.deadlines.clear("plan_lease");
      }
      const type = webhookEventFor(result.state);
      if (type && job.webhook) this.outbox.enqueue(type, this.view({ ...job, state: result.state }, event.at), event.at);
    });
    await this.deadlines.arm();
    await this.notifyQueue();
    return result;
  }

  private changeRange(index: number, state: RangeState, event: RangeEvent, also?: () => void): Result<RangeState> {
    const next = rangeTransition(state, event);
    if (!next.ok) return fail(409, "range_conflict", next.reason);
    this.ctx.storage.transactionSync(() => {
      this.store.writeRange(index, next.state);
      also?.();
    });
    return ok(next.state);
  }

  private async loseRange(index: number, state: RangeState, event: RangeEvent): Promise<Result<TranscriptionJob>> {
    const changed = this.changeRange(index, state, event, () => this.deadlines.clear("range_lease", String(index)));
    if (!changed.ok) return changed;
    if (changed.value.status === "failed") {
      const cause: JobError = changed.value.error;
      await this.apply({ type: "fail", at: Date.now(), error: { code: cause.code, message: `range ${index} failed ${changed.value.attempt} times; last: ${cause.message}` } });
    } else await this.notifyQueue();
    await this.deadlines.arm();
    return ok(this.view(this.store.readJob()!));
  }

  private leasedRange(index: number, attempt: number): Result<RangeState> {
    const job = this.store.readJob();
    const range = this.store.readRange(index);
    if (!job || !range) return notFound();
    if (isTerminal(job.state)) return fail(409, "job_finished", `the job is ${job.state.status}`);
    if (range.state.attempt !== attempt || range.state.status !== "leased") return stale(`range ${index}`, attempt, range.state.attempt);
    return ok(range.state);
  }

  private maybeProgressWebhook(now: number): void {
    const job = this.store.readJob();
    if (!job?.webhook?.events.includes("progress") || job.state.status !== "running") return;
    if (job.last_progress_event_at !== null && now - job.last_progress_event_at < PROGRESS_WEBHOOK_INTERVAL_MS) return;
    this.store.setLastProgressEventAt(now);
    this.outbox.enqueue("progress", this.view(job, now), now);
  }
}

/** The label of work whose machine the caller did not name (tests, records from before labels): unmanaged, at the default price. */
function unlabelled(env: Env): MachineLabel {
  return unmanagedLabel(readConfig(env).machinePricePerHourUsd);
}

/** Why a machine working on this job should stop, whatever its task; null while the job goes on. */
function stopReason(state: JobState): Extract<HeartbeatAnswer, { continue: false }> | null {
  if (state.status === "canceled") return { continue: false, reason: "canceled" };
  return isTerminal(state) ? { continue: false, reason: "job_finished" } : null;
}

function webhookEventFor(state: JobState): WebhookEventType | null {
  switch (state.status) {
    case "completed":
    case "failed":
    case "canceled":
      return state.status;
    case "queued":
    case "planning":
    case "running":
      return null;
    default:
      return assertNever(state);
  }
}

/** Ranges must tile [0, duration] in order, without gaps or overlaps. */
function checkPlan(durationSec: number, ranges: readonly PlannedRange[]): string | null {
  if (!(Number.isFinite(durationSec) && durationSec >= 0)) return "duration_sec must be a finite number ≥ 0";
  let cursor = 0;
  for (const [i, r] of ranges.entries()) {
    if (Math.abs(r.start_sec - cursor) > 1e-6) return `range ${i} starts at ${r.start_sec}, expected ${cursor}`;
    if (!(r.end_sec > r.start_sec)) return `range ${i} is empty or reversed`;
    cursor = r.end_sec;
  }
  if (ranges.length > 0 && Math.abs(cursor - durationSec) > 1e-3) return `ranges end at ${cursor}, the recording at ${durationSec}`;
  return null;
}

function notFound<T>(): Result<T> {
  return fail(404, "not_found", "no such transcription");
}

function stale<T>(what: string, attempt: number, current?: number): Result<T> {
  const now = current === undefined ? "" : ` (current attempt is ${current})`;
  return fail(409, "stale_attempt", `attempt ${attempt} no longer holds ${what}${now}`);
}

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
