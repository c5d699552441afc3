import type { MachineLabel, TranscriptionJob } from "../../shared/api.ts";
import type { HeartbeatResponse, MediaHint } from "../../shared/protocol.ts";
import { fail, ok, type Result } from "../errors.ts";
import type { UnsignedPlanTask } from "../queue/work.ts";
import type { JobHost, QueueNotice } from "./job-host.ts";
import { stopAnswer } from "./job-state.ts";
import { checkPlan, INITIAL_RANGE, type PlannedRange } from "./range-state.ts";
import { notFound, stale } from "./refusals.ts";
import { planTask } from "./task-builder.ts";
import type { TaskFailure } from "./range-leases.ts";

/** A plan's wall-clock budget: a 48-hour file plans in minutes; past this the machine gets no more lease. */
const PLAN_BUDGET_SEC = 30 * 60;

/**
 * The planning task of a job: one machine at a time probes the recording and
 * cuts it into ranges, under a lease kept alive by heartbeats; a lost lease or
 * a failure sends the job back to the queue (three attempts).
 */
export class PlanLease {
  constructor(private readonly host: JobHost) {}

  async start(machineId: string, leaseSec: number, machine: MachineLabel, queue: QueueNotice): Promise<Result<UnsignedPlanTask>> {
    const now = this.host.now();
    const leaseUntil = now + leaseSec * 1000;
    const result = await this.host.apply(
      { type: "plan_started", at: now, machine_id: machineId, machine },
      () => this.host.deadlines.set("plan_lease", "plan", leaseUntil),
      queue,
    );
    if (!result.ok) return fail(409, "not_plannable", result.reason);
    const job = this.host.store.readJob()!;
    const attempt = job.state.status === "planning" ? job.state.attempt : 0;
    return ok(planTask(job, { attempt, lease_until: leaseUntil, lease_sec: leaseSec }));
  }

  /** `unsettledSearchSec`: the inner boundaries are left for range tasks to settle, within ±this. */
  async submit(
    attempt: number,
    durationSec: number,
    ranges: PlannedRange[],
    machineSec: number,
    media: MediaHint | null,
    unsettledSearchSec: number | null = null,
  ): Promise<Result<TranscriptionJob>> {
    const { store, deadlines } = this.host;
    const job = store.readJob();
    if (!job) return notFound();
    if (job.state.status !== "planning" || job.state.attempt !== attempt) return stale("plan", attempt);
    const invalid = checkPlan(durationSec, ranges);
    if (invalid) return fail(400, "invalid_plan", invalid);
    const planner = job.state.machine ?? null;
    const result = await this.host.apply({ type: "planned", at: this.host.now(), duration_sec: durationSec, ranges: ranges.length }, () => {
      store.insertRanges(ranges, INITIAL_RANGE, unsettledSearchSec !== null);
      store.setBoundarySearch(unsettledSearchSec);
      store.addPlanMachineSec(machineSec, planner);
      if (media) store.setPlanMedia(media);
      deadlines.clear("plan_lease");
    });
    if (!result.ok) return fail(409, "not_plannable", result.reason);
    return ok(this.host.view(store.readJob()!));
  }

  async heartbeat(attempt: number, leaseSec: number): Promise<Result<HeartbeatResponse>> {
    const job = this.host.store.readJob();
    if (!job) return notFound();
    const stop = stopAnswer(job.state);
    if (stop) return ok(stop);
    if (job.state.status !== "planning" || job.state.attempt !== attempt) return ok({ continue: false, reason: "superseded" });
    if (this.host.now() - job.state.started_at > PLAN_BUDGET_SEC * 1000) {
      const error = { code: "task_timeout", message: `planning ran past its budget of ${PLAN_BUDGET_SEC} s on machine ${job.state.machine_id}` };
      await this.host.apply({ type: "plan_lost", at: this.host.now(), retryable: true, error }, () => this.host.deadlines.clear("plan_lease"));
      return ok({ continue: false, reason: "superseded" });
    }
    const leaseUntil = this.host.now() + leaseSec * 1000;
    this.host.deadlines.set("plan_lease", "plan", leaseUntil);
    await this.host.deadlines.arm();
    return ok({ continue: true, lease_until: leaseUntil });
  }

  async fail(attempt: number, failure: TaskFailure): Promise<Result<null>> {
    const job = this.host.store.readJob();
    if (!job) return notFound();
    if (job.state.status !== "planning" || job.state.attempt !== attempt) return stale("plan", attempt);
    const error = { code: failure.code, message: failure.message };
    await this.host.apply({ type: "plan_lost", at: this.host.now(), retryable: failure.retryable, error }, () => this.host.deadlines.clear("plan_lease"));
    return ok(null);
  }

  /** The plan lease's deadline came: the planner stopped sending heartbeats. */
  async expire(now: number): Promise<void> {
    this.host.deadlines.clear("plan_lease");
    const job = this.host.store.readJob();
    if (job?.state.status !== "planning") return;
    const error = { code: "machine_lost", message: `planning machine ${job.state.machine_id} stopped sending heartbeats` };
    await this.host.apply({ type: "plan_lost", at: now, retryable: true, error });
  }
}
