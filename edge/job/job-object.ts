import { DurableObject } from "cloudflare:workers";
import type { MachineLabel, TranscriptionJob } from "../../shared/api.ts";
import { assertNever } from "../../shared/assert-never.ts";
import { CONTENT_TYPES, renderTranscript, type TranscriptFormat } from "../../shared/formats/render.ts";
import type { HeartbeatResponse, MediaHint, RangeDiarization } from "../../shared/protocol.ts";
import { deriveWebhookSecret } from "../../shared/webhook-signing.ts";
import { readConfig } from "../config.ts";
import { fail, ok, type Result } from "../errors.ts";
import { unmanagedLabel } from "../providers/prices.ts";
import type { JobForQueue, JobWork, UnsignedPlanTask, UnsignedRangeTask, UnsignedTask } from "../queue/work.ts";
import { WEBHOOK_TIMEOUT_MS } from "../webhooks/delivery.ts";
import { Clock, Deadlines } from "./deadlines.ts";
import type { JobHost, QueueNotice } from "./job-host.ts";
import { isTerminal, stateTimes, transition, webhookEventFor, type JobEvent, type Transition } from "./job-state.ts";
import { JobLinks } from "./job-links.ts";
import { JobStore, type JobRecord, type SegmentKey } from "./job-store.ts";
import { jobView } from "./job-view.ts";
import { eventsAfter, type LiveEvent, LiveStreams, segmentEvents } from "./live-events.ts";
import { PlanLease } from "./plan-lease.ts";
import { RangeLeases, type RangePost, type TaskFailure } from "./range-leases.ts";
import type { PlannedRange } from "./range-state.ts";
import { notFound } from "./refusals.ts";
import { hasSchema, migrate } from "./schema.ts";
import { streamText } from "./stream-text.ts";
import { WebhookOutbox } from "./webhook-outbox.ts";

/** What the Worker knows when it creates a job; the rest of the record starts empty. */
export type CreateJobInput = Omit<
  JobRecord,
  "state" | "plan_machine_sec" | "plan_machine" | "last_progress_event_at" | "plan_media" | "settled_language" | "boundary_search_sec"
>;

export interface TranscriptBody {
  content_type: string;
  body: ReadableStream<Uint8Array>;
}

/** Alarm handlers that throw are tried again this much later rather than in a hot loop. */
const DEADLINE_RETRY_MS = 30_000;
/** One alarm run starts no new webhook delivery after this long; the rest go to the next run. */
const ALARM_DELIVERY_BUDGET_MS = 15_000;

/**
 * One Durable Object per job (named by the job id), holding the job, its
 * ranges, the merged segments and its webhook outbox in SQLite. It owns the
 * public API of a job, the alarm and the one way state changes (`apply`);
 * the machine-facing work is its capabilities' (PlanLease, RangeLeases),
 * each reaching it through JobHost. Public-API methods take the caller's key
 * id and answer not_found to anyone else.
 */
export class JobObject extends DurableObject<Env> implements JobForQueue {
  private readonly store: JobStore;
  private readonly deadlines: Deadlines;
  private readonly outbox: WebhookOutbox;
  private readonly plan: PlanLease;
  private readonly ranges: RangeLeases;
  readonly clock = new Clock();
  private readonly links: JobLinks;
  private readonly live: LiveStreams;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new JobStore(ctx.storage.sql);
    this.live = new LiveStreams(ctx, this.store);
    this.deadlines = new Deadlines(ctx.storage);
    this.outbox = new WebhookOutbox(ctx.storage.sql, this.deadlines);
    this.links = new JobLinks(env, this.store, this.deadlines, this.clock);
    const host: JobHost = {
      store: this.store,
      deadlines: this.deadlines,
      outbox: this.outbox,
      now: () => this.clock.now(),
      transaction: (fn) => ctx.storage.transactionSync(fn),
      apply: (event, also, queue) => this.apply(event, also, queue),
      notifyQueue: () => this.links.notifyQueue(),
      view: (job, now) => this.view(job, now),
    };
    this.plan = new PlanLease(host);
    this.ranges = new RangeLeases(host);
    void ctx.blockConcurrencyWhile(async () => {
      if (hasSchema(ctx.storage.sql)) migrate(ctx.storage.sql);
    });
  }

  // ---- public API -------------------------------------------------------

  /**
   * Makes the job, once: a second call by the same owner (a retried request) gets it back.
   * Listing it under its key is part of the same commit: a deadline written with the job,
   * cleared once the key's index has it, retried from the alarm until then, so no job
   * runs (and bills) without appearing in its key's list.
   */
  async create(input: CreateJobInput, idempotencyKey: string | null = null): Promise<Result<TranscriptionJob>> {
    const existing = this.store.readJob();
    if (existing) return existing.owner === input.owner ? ok(this.view(existing)) : notFound();
    migrate(this.ctx.storage.sql);
    this.ctx.storage.transactionSync(() => {
      this.store.insertJob({
        ...input,
        state: { status: "queued", plan_failures: 0 },
        plan_machine_sec: 0,
        plan_machine: null,
        last_progress_event_at: null,
        plan_media: null,
        settled_language: null,
        boundary_search_sec: null,
      });
      this.deadlines.set("index_add", idempotencyKey ?? "", this.clock.now());
    });
    await this.links.addToIndex(idempotencyKey ?? "");
    await this.links.notifyQueue();
    await this.deadlines.arm();
    return ok(this.view(this.store.readJob()!));
  }

  async get(owner: string): Promise<Result<TranscriptionJob>> {
    const job = this.owned(owner);
    return job ? ok(this.view(job)) : notFound();
  }

  async cancel(owner: string): Promise<Result<TranscriptionJob>> {
    const job = this.owned(owner);
    if (!job) return notFound();
    const result = await this.apply({ type: "cancel", at: this.clock.now() });
    if (!result.ok) return fail(409, "job_finished", `the job is already ${job.state.status} and cannot be canceled`);
    return ok(this.view(this.store.readJob()!));
  }

  /** Erases everything the object stores, alarm included, and takes the job out of the queue. */
  async erase(owner: string): Promise<Result<null>> {
    const job = this.owned(owner);
    if (!job) return notFound();
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, "the transcription was deleted");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    await this.links.leaveQueue(job);
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
      ...(job.options.diarize === true ? { speakers: this.store.speakerSummary() } : {}),
    };
    const chunks = renderTranscript(format, meta, () => asAsync(this.store.segmentsInOrder()));
    return ok({ content_type: CONTENT_TYPES[format], body: streamText(chunks) });
  }

  // ---- live events (routes/job-events.ts) -------------------------------------

  /** `GET …/events` from the route, as a WebSocket upgrade naming the owner it checked. */
  override async fetch(request: Request): Promise<Response> {
    const owner = request.headers.get("x-owner") ?? "";
    if (request.headers.get("upgrade") !== "websocket" || !this.owned(owner)) return new Response(null, { status: 404 });
    return this.live.accept();
  }

  /** What the merge log holds after `after`, as events, `limit` entries at a time. */
  async eventsSince(owner: string, after: number, limit: number): Promise<Result<{ events: LiveEvent[]; last: number; more: boolean }>> {
    if (!this.owned(owner)) return notFound();
    return ok(eventsAfter(this.store, after, limit));
  }

  /** A page of the transcript as it stood at merge `upTo` (null: now, which the answer names), for a client that starts watching. */
  async snapshotPage(
    owner: string,
    after: SegmentKey | null,
    upTo: number | null,
    limit: number,
  ): Promise<Result<{ events: LiveEvent[]; next: SegmentKey | null; up_to: number }>> {
    if (!this.owned(owner)) return notFound();
    const at = upTo ?? this.store.lastMergeSeq();
    const page = this.store.segmentsPage(after, at, limit);
    return ok({ events: segmentEvents(page.segments, undefined), next: page.next, up_to: at });
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    try {
      ws.close(1000, "stream ended");
    } catch {
      // already closed from the other side
    }
  }

  // ---- machine-facing RPC (the routes in edge/routes/machine.ts) -------------

  /**
   * The queue's one question: the next task of this job for a machine (a plan
   * while queued, else the first pending range), and what is left after it.
   */
  async leaseNext(machineId: string, leaseSec: number, machine: MachineLabel): Promise<Result<{ task: UnsignedTask | null; work: JobWork }>> {
    const job = this.store.readJob();
    if (!job) return notFound();
    let task: UnsignedTask | null = null;
    if (job.state.status === "queued") {
      const plan = await this.plan.start(machineId, leaseSec, machine, "quiet");
      if (plan.ok) task = plan.value;
    } else if (job.state.status === "running") {
      const range = await this.ranges.lease(machineId, leaseSec, machine);
      if (range.ok) task = range.value;
      // A range leased again drops what its last attempt showed: watchers are told.
      this.live.push();
    }
    return ok({ task, work: this.links.work() });
  }

  async currentWork(): Promise<JobWork> {
    return this.links.work();
  }

  async startPlan(machineId: string, leaseSec: number, machine: MachineLabel = unlabelled(this.env)): Promise<Result<UnsignedPlanTask>> {
    return this.plan.start(machineId, leaseSec, machine, "notify");
  }

  async submitPlan(
    attempt: number,
    durationSec: number,
    ranges: PlannedRange[],
    machineSec: number,
    media: MediaHint | null = null,
    unsettledSearchSec: number | null = null,
  ): Promise<Result<TranscriptionJob>> {
    return this.plan.submit(attempt, durationSec, ranges, machineSec, media, unsettledSearchSec);
  }

  async heartbeatPlan(attempt: number, leaseSec: number): Promise<Result<HeartbeatResponse>> {
    return this.plan.heartbeat(attempt, leaseSec);
  }

  async failPlan(attempt: number, failure: TaskFailure): Promise<Result<null>> {
    return this.plan.fail(attempt, failure);
  }

  async leaseRange(machineId: string, leaseSec: number, machine: MachineLabel = unlabelled(this.env)): Promise<Result<UnsignedRangeTask | null>> {
    const leased = await this.ranges.lease(machineId, leaseSec, machine);
    this.live.push();
    return leased;
  }

  async heartbeatRange(rangeIndex: number, attempt: number, leaseSec: number): Promise<Result<HeartbeatResponse>> {
    return this.ranges.heartbeat(rangeIndex, attempt, leaseSec);
  }

  async settleRange(
    rangeIndex: number,
    attempt: number,
    proposal: { start_sec?: number; end_sec?: number },
  ): Promise<Result<{ start_sec: number; end_sec: number }>> {
    return this.ranges.settle(rangeIndex, attempt, proposal);
  }

  async postSegments(post: RangePost): Promise<Result<{ status: "accepted" | "duplicate" }>> {
    const posted = await this.ranges.post(post);
    if (posted.ok && posted.value.status === "accepted") this.live.push(() => this.progressEvent());
    return posted;
  }

  async completeRange(rangeIndex: number, attempt: number, machineSec: number | null, diarization: RangeDiarization = {}): Promise<Result<TranscriptionJob>> {
    const completed = await this.ranges.complete(rangeIndex, attempt, machineSec, diarization);
    // A language redo at the last range drops segments: watchers are told.
    this.live.push(() => this.progressEvent());
    return completed;
  }

  async failRange(rangeIndex: number, attempt: number, failure: TaskFailure): Promise<Result<TranscriptionJob>> {
    return this.ranges.fail(rangeIndex, attempt, failure);
  }

  // ---- alarm ------------------------------------------------------------------

  override async alarm(): Promise<void> {
    // An erased job has nothing left to do (and no tables to do it with).
    if (!this.present()) return;
    // The real time, not the earliest deadline: an alarm may run early (a retry after a
    // throw, a deadline cleared without re-arming), and an early run must not expire a
    // lease that still has time.
    const now = this.clock.now();
    // Leases and queue notices first: webhook deliveries wait on receivers, and a slow
    // receiver must not hold back a lease's expiry. Deliveries then get a bounded share.
    const due = this.deadlines.due(now).sort((a, b) => Number(a.kind === "webhook") - Number(b.kind === "webhook"));
    const started = Date.now();
    for (const d of due) {
      if (!this.present()) return;
      if (d.kind === "webhook" && Date.now() - started > ALARM_DELIVERY_BUDGET_MS) {
        this.deadlines.set("webhook", d.ref, now + 1_000);
        continue;
      }
      try {
        switch (d.kind) {
          case "webhook":
            await this.deliverWebhook(d.ref, now);
            break;
          case "range_lease":
            await this.ranges.expire(Number(d.ref), now);
            break;
          case "plan_lease":
            await this.plan.expire(now);
            break;
          case "queue_notify":
            this.deadlines.clear("queue_notify", d.ref);
            await this.links.notifyQueue();
            break;
          case "index_add":
            await this.links.addToIndex(d.ref);
            break;
          case "index_sync":
            await this.links.syncIndex();
            break;
          default:
            assertNever(d.kind);
        }
      } catch (error) {
        if (!this.present()) return;
        console.error(`deadline ${d.kind}:${d.ref} failed`, error);
        this.deadlines.set(d.kind, d.ref, now + DEADLINE_RETRY_MS);
      }
    }
    if (this.present()) await this.deadlines.arm();
  }

  /** Whether the job still exists: erase can run while the alarm awaits a receiver. */
  private present(): boolean {
    return hasSchema(this.ctx.storage.sql);
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
    await this.outbox.attempt(eventId, job.webhook, secret, { allowLoopback: config.allowLoopbackUrls }, now, () => this.present());
  }

  // ---- internals -------------------------------------------------------------

  private progressEvent(): LiveEvent[] {
    const job = this.store.readJob();
    return job ? [{ event: "progress", data: this.view(job).progress }] : [];
  }

  private owned(owner: string): JobRecord | null {
    const job = this.store.readJob();
    return job && job.owner === owner ? job : null;
  }

  private view(job: JobRecord, now = this.clock.now()): TranscriptionJob {
    const webhook = job.webhook ? this.outbox.status(job.webhook) : null;
    return jobView(job, this.store.readRanges(), webhook, unlabelled(this.env), now);
  }

  /** JobHost.apply: the pure transition, then one transaction of the new state and its consequences. */
  private async apply(event: JobEvent, also?: () => void, queue: QueueNotice = "notify"): Promise<Transition> {
    const job = this.store.readJob();
    if (!job) return { ok: false, reason: "no such job" };
    const result = transition(job.state, event);
    if (!result.ok || !result.changed) return result;
    // Planned (its audio) and finished change what the key's quotas count.
    const quotaChanged = isTerminal(result.state) || result.state.status === "running";
    this.ctx.storage.transactionSync(() => {
      this.store.writeState(result.state);
      also?.();
      if (isTerminal(result.state)) {
        this.deadlines.clear("range_lease");
        this.deadlines.clear("plan_lease");
      }
      if (quotaChanged) this.deadlines.set("index_sync", "", event.at);
      const type = webhookEventFor(result.state);
      if (type && job.webhook) this.outbox.enqueue(type, this.view({ ...job, state: result.state }, event.at), event.at);
    });
    this.live.push(() => [
      { event: "status", data: { status: result.state.status, ...(result.state.status === "failed" ? { error: result.state.error } : {}) } },
      ...this.progressEvent(),
    ]);
    if (quotaChanged) await this.links.syncIndex();
    await this.deadlines.arm();
    if (queue === "notify") await this.links.notifyQueue();
    return result;
  }
}

/** The label of work whose machine the caller did not name (tests, records from before labels): unmanaged, at the default price. */
function unlabelled(env: Env): MachineLabel {
  return unmanagedLabel(readConfig(env).machinePricePerHourUsd);
}

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}
