import type { MachineLabel, TranscriptionJob } from "../../shared/api.ts";
import { assertNever } from "../../shared/assert-never.ts";
import { languageRedo, rangeLanguage } from "../../shared/language-vote.ts";
import { clampToRange, decideBatch } from "../../shared/merge.ts";
import type { FailRequest, HeartbeatResponse, RangeDiarization, SegmentsPost } from "../../shared/protocol.ts";
import { fail, ok, type Result } from "../errors.ts";
import type { UnsignedRangeTask } from "../queue/work.ts";
import type { JobHost } from "./job-host.ts";
import { isTerminal, stopAnswer } from "./job-state.ts";
import type { JobRecord, RangeRecord } from "./job-store.ts";
import { rangeTransition, type RangeEvent, type RangeState } from "./range-state.ts";
import { notFound, stale } from "./refusals.ts";
import { labelRangeSpeakers } from "./speaker-labels.ts";
import { rangeTask } from "./task-builder.ts";

/** A machine's report that its task failed. */
export type TaskFailure = Pick<FailRequest, "retryable" | "code" | "message">;

/** A segment post as the job object takes it: the route has checked the version and named the range. */
export type RangePost = Omit<SegmentsPost, "version"> & { range_index: number };

/** The most machine time a range is billed, per second of its audio: ten times slower than real time. */
const MAX_MACHINE_SEC_PER_AUDIO_SEC = 10;

/**
 * A range's wall-clock budget: ten times its audio, and never under 15 minutes. A
 * machine past it gets no more lease (the attempt fails as task_timeout), so a file
 * that decodes endlessly cannot hold a machine for hours on heartbeats alone.
 */
const MIN_TASK_BUDGET_SEC = 15 * 60;

export function rangeBudgetSec(audioSec: number): number {
  return Math.max(MIN_TASK_BUDGET_SEC, MAX_MACHINE_SEC_PER_AUDIO_SEC * audioSec);
}

/** Progress webhooks, when asked for, come at most this often. */
const PROGRESS_WEBHOOK_INTERVAL_MS = 60_000;

/**
 * The ranges of a running job: handed to machines under leases, kept alive
 * by heartbeats, their segment posts merged, completed or failed, expired
 * from the alarm, and (with language "auto") sent round again in the
 * recording's language when their own disagrees.
 */
export class RangeLeases {
  constructor(private readonly host: JobHost) {}

  /**
   * The first pending range, leased to `machineId`; null when none is pending.
   * The queue is not told here: it asks (leaseNext) and learns the work from the answer.
   */
  async lease(machineId: string, leaseSec: number, machine: MachineLabel): Promise<Result<UnsignedRangeTask | null>> {
    const { store, deadlines } = this.host;
    const job = store.readJob();
    if (!job) return notFound();
    if (job.state.status !== "running") return ok(null);
    const range = store.firstPendingRange();
    if (!range) return ok(null);
    const now = this.host.now();
    const leaseUntil = now + leaseSec * 1000;
    const leased = this.change(range.idx, range.state, { type: "lease", at: now, machine_id: machineId, machine, lease_until: leaseUntil }, () => {
      store.dropRangeSegments(range.idx);
      deadlines.set("range_lease", String(range.idx), leaseUntil);
    });
    if (!leased.ok) return leased;
    await deadlines.arm();
    const lease = { attempt: leased.value.attempt, lease_until: leaseUntil, lease_sec: leaseSec };
    return ok(rangeTask(job, range, store.readRange(range.idx + 1), lease, this.languageFor(job)));
  }

  /**
   * A range task proposes quiet points for its unsettled edges; the first
   * proposal for a boundary (from either neighbour) is the one both keep, so the
   * ranges still tile the recording. A proposal out of reach of where the
   * boundary fell, or one that would leave a range under a second, settles it
   * where it fell. Answers the range's edges as they now stand.
   */
  async settle(index: number, attempt: number, proposal: { start_sec?: number; end_sec?: number }): Promise<Result<{ start_sec: number; end_sec: number }>> {
    const { store } = this.host;
    const job = store.readJob();
    const range = store.readRange(index);
    if (!job || !range) return notFound();
    if (range.state.status !== "leased" || range.state.attempt !== attempt) {
      return stale(`range ${index}`, attempt, range.state.status === "leased" ? range.state.attempt : undefined);
    }
    const search = job.boundary_search_sec ?? 0;
    this.host.transaction(() => {
      if (!range.start_settled && proposal.start_sec !== undefined) this.settleBoundary(index, proposal.start_sec, search);
      const next = store.readRange(index + 1);
      if (next && !next.start_settled && proposal.end_sec !== undefined) this.settleBoundary(index + 1, proposal.end_sec, search);
    });
    const settled = store.readRange(index)!;
    return ok({ start_sec: settled.start_sec, end_sec: settled.end_sec });
  }

  /**
   * Segments clamped to a range's edges fix them: a machine that posts without
   * having settled an edge (one built before edges were settled by range tasks)
   * keeps it where it fell, so a neighbour settling it later cannot move it under
   * audio already transcribed (which would double or drop words at the boundary).
   */
  private keepEdges(range: RangeRecord): void {
    const { store } = this.host;
    if (!range.start_settled) store.settleStart(range.idx, range.start_sec);
    const next = store.readRange(range.idx + 1);
    if (next && !next.start_settled) store.settleStart(next.idx, next.start_sec);
  }

  private settleBoundary(idx: number, sec: number, search: number): void {
    const { store } = this.host;
    const after = store.readRange(idx)!;
    const before = store.readRange(idx - 1)!;
    const reachable = Math.abs(sec - after.start_sec) <= search + 1e-6 && sec > before.start_sec + 1 && sec < after.end_sec - 1;
    store.settleStart(idx, reachable ? sec : after.start_sec);
  }

  async heartbeat(index: number, attempt: number, leaseSec: number): Promise<Result<HeartbeatResponse>> {
    const { store, deadlines } = this.host;
    const job = store.readJob();
    const range = store.readRange(index);
    if (!job || !range) return notFound();
    const stop = stopAnswer(job.state);
    if (stop) return ok(stop);
    if (range.state.status !== "leased" || range.state.attempt !== attempt) return ok({ continue: false, reason: "superseded" });
    const budgetSec = rangeBudgetSec(range.end_sec - range.start_sec);
    if (this.host.now() - range.state.leased_at > budgetSec * 1000) {
      const error = { code: "task_timeout", message: `range ${index} ran past its budget of ${Math.round(budgetSec)} s on machine ${range.state.machine_id}` };
      await this.lose(index, range.state, { type: "report_failure", at: this.host.now(), retryable: true, error });
      return ok({ continue: false, reason: "superseded" });
    }
    const leaseUntil = this.host.now() + leaseSec * 1000;
    const changed = this.change(index, range.state, { type: "heartbeat", lease_until: leaseUntil }, () =>
      deadlines.set("range_lease", String(index), leaseUntil),
    );
    if (!changed.ok) return changed;
    await deadlines.arm();
    return ok({ continue: true, lease_until: leaseUntil });
  }

  async post(post: RangePost): Promise<Result<{ status: "accepted" | "duplicate" }>> {
    const { store } = this.host;
    const job = store.readJob();
    const range = store.readRange(post.range_index);
    if (!job || !range) return notFound();
    const open = range.state.status === "leased" && !isTerminal(job.state);
    const view = { index: range.idx, start_sec: range.start_sec, end_sec: range.end_sec, attempt: range.state.attempt, open };
    const decision = decideBatch(view, post, store.seenSeqs(range.idx, post.attempt));
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
    const now = this.host.now();
    this.host.transaction(() => {
      if (job.boundary_search_sec !== null) this.keepEdges(range);
      store.insertBatch(
        range.idx,
        post.attempt,
        post.seq,
        now,
        post.segments.map((s) => clampToRange(s, view)),
      );
      if (post.language_sec) store.addLanguageSeconds(range.idx, post.language_sec, range.end_sec - range.start_sec);
      if (range.state.status === "leased") {
        const next = rangeTransition(range.state, { type: "progress", audio_sec_done: post.audio_sec_done });
        if (next.ok) store.writeRange(range.idx, next.state);
      }
      this.maybeProgressWebhook(now);
    });
    await this.host.deadlines.arm();
    return ok({ status: "accepted" });
  }

  async complete(index: number, attempt: number, machineSec: number | null, diarization: RangeDiarization = {}): Promise<Result<TranscriptionJob>> {
    const found = this.leased(index, attempt);
    if (!found.ok) return found;
    const now = this.host.now();
    const range = found.value;
    const job = this.host.store.readJob()!;
    // Usage is billed from it: a machine may report slow work, not a week for five minutes of audio.
    const billed = machineSec === null ? null : Math.min(machineSec, MAX_MACHINE_SEC_PER_AUDIO_SEC * (range.end_sec - range.start_sec));
    const changed = this.change(index, range.state, { type: "complete", at: now, machine_sec: billed }, () => {
      this.host.deadlines.clear("range_lease", String(index));
      labelRangeSpeakers(this.host.store, job.options, index, diarization);
    });
    if (!changed.ok) return changed;
    if (this.host.store.countRangesNot("done") === 0 && !this.redoDisagreeing()) await this.host.apply({ type: "ranges_done", at: now });
    else await this.host.notifyQueue(); // one range less in flight, for the fleet's size
    await this.host.deadlines.arm();
    return ok(this.host.view(this.host.store.readJob()!));
  }

  async fail(index: number, attempt: number, failure: TaskFailure): Promise<Result<TranscriptionJob>> {
    const found = this.leased(index, attempt);
    if (!found.ok) return found;
    const error = { code: failure.code, message: failure.message };
    return this.lose(index, found.value.state, { type: "report_failure", at: this.host.now(), retryable: failure.retryable, error });
  }

  /** A range lease's deadline came; a heartbeat may have moved it since, and then it is set again. */
  async expire(index: number, now: number): Promise<void> {
    const range = this.host.store.readRange(index);
    if (range?.state.status !== "leased" || range.state.lease_until > now) {
      this.host.deadlines.clear("range_lease", String(index));
      if (range?.state.status === "leased") this.host.deadlines.set("range_lease", String(index), range.state.lease_until);
      return;
    }
    await this.lose(index, range.state, { type: "lease_expired", at: now });
  }

  /** The language a new range task must use (shared/language-vote.ts). */
  private languageFor(job: JobRecord): string | null {
    const vote = this.host.store.languageVote().map((v) => ({ language: v.language, weight: v.sec }));
    return rangeLanguage(job.options.language, job.settled_language, vote);
  }

  /**
   * With language "auto", once every range is done the vote settles the job's
   * language, and ranges whose own language disagrees go round again with it
   * forced, once (shared/language-vote.ts says when). Returns whether any range was sent back.
   */
  private redoDisagreeing(): boolean {
    const { store } = this.host;
    const job = store.readJob();
    if (job?.options.language !== "auto" || job.settled_language) return false;
    const vote = store.languageVote().map((v) => ({ language: v.language, weight: v.sec }));
    const decision = languageRedo(
      vote,
      store.rangeLanguages().map((r) => ({ range_index: r.range_idx, language: r.language })),
    );
    if (!decision) return false;
    this.host.transaction(() => {
      store.setSettledLanguage(decision.settle);
      for (const r of decision.redo) {
        const range = store.readRange(r.range_index);
        if (!range) continue;
        const reason = { code: "language_vote", message: `range ${r.range_index} came out in ${r.language}; the recording is ${decision.settle}` };
        const next = rangeTransition(range.state, { type: "redo", reason });
        if (!next.ok) continue;
        store.writeRange(r.range_index, next.state);
        store.dropRangeSegments(r.range_index);
      }
    });
    if (decision.redo.length > 0) void this.host.notifyQueue();
    return decision.redo.length > 0;
  }

  private change(index: number, state: RangeState, event: RangeEvent, also?: () => void): Result<RangeState> {
    const next = rangeTransition(state, event);
    if (!next.ok) return fail(409, "range_conflict", next.reason);
    this.host.transaction(() => {
      this.host.store.writeRange(index, next.state);
      also?.();
    });
    return ok(next.state);
  }

  private async lose(index: number, state: RangeState, event: RangeEvent): Promise<Result<TranscriptionJob>> {
    const changed = this.change(index, state, event, () => this.host.deadlines.clear("range_lease", String(index)));
    if (!changed.ok) return changed;
    if (changed.value.status === "failed") {
      const cause = changed.value.error;
      await this.host.apply({
        type: "fail",
        at: this.host.now(),
        error: { code: cause.code, message: `range ${index} failed ${changed.value.attempt} times; last: ${cause.message}` },
      });
    } else await this.host.notifyQueue();
    await this.host.deadlines.arm();
    return ok(this.host.view(this.host.store.readJob()!));
  }

  /** The range `index` while `attempt` still holds its lease. */
  private leased(index: number, attempt: number): Result<RangeRecord> {
    const job = this.host.store.readJob();
    const range = this.host.store.readRange(index);
    if (!job || !range) return notFound();
    if (isTerminal(job.state)) return fail(409, "job_finished", `the job is ${job.state.status}`);
    if (range.state.attempt !== attempt || range.state.status !== "leased") return stale(`range ${index}`, attempt, range.state.attempt);
    return ok(range);
  }

  private maybeProgressWebhook(now: number): void {
    const { store, outbox } = this.host;
    const job = store.readJob();
    if (!job?.webhook?.events.includes("progress") || job.state.status !== "running") return;
    if (job.last_progress_event_at !== null && now - job.last_progress_event_at < PROGRESS_WEBHOOK_INTERVAL_MS) return;
    store.setLastProgressEventAt(now);
    outbox.enqueue("progress", this.host.view(job, now), now);
  }
}
