import { DurableObject } from "cloudflare:workers";
import { assertNever } from "../../shared/assert-never.ts";
import { readConfig } from "../config.ts";
import { fail, ok, type Result } from "../errors.ts";
import { providersFor } from "../providers/providers.ts";
import { mintMachineCredential, type MachineCredential } from "../tasks/machine-credential.ts";
import { FairQueue, type QueueStats } from "./fair-queue.ts";
import { Fleet, type FleetStatus } from "./fleet.ts";
import { migrateQueue } from "./queue-schema.ts";
import { jobForQueue, type JobWork, type QueueForJobs, type UnsignedTask } from "./work.ts";

/** Reconcile ticks while there is work or a machine to watch; none when idle (an idle deployment costs nothing). */
const RECONCILE_MS = 10_000;
/** A row with only leased work is checked with its job once nobody has updated it for this long … */
const VERIFY_AFTER_MS = 60_000;
/** … a few per tick, so one tick stays short. */
const VERIFY_PER_TICK = 20;

/**
 * The work queue: hands machines tasks from jobs in fair order (FairQueue),
 * asking each job object for its next task at claim time, so the queue can
 * never hand out work a job has already given away; and sizes the fleet to
 * the work from its alarm (Fleet).
 *
 * Named by shard (`queue:default`); the key leaves room for one queue per
 * model and region when one object's claim rate is not enough.
 */
export class WorkQueue extends DurableObject<Env> implements QueueForJobs {
  private readonly queue: FairQueue;
  private readonly fleet: Fleet;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrateQueue(ctx.storage.sql);
    this.queue = new FairQueue(ctx.storage.sql);
    this.fleet = new Fleet(ctx.storage.sql);
  }

  async update(jobId: string, owner: string, createdAt: number, work: JobWork): Promise<void> {
    this.queue.write(jobId, createdAt, work, null, owner);
    if (work.pending > 0) await this.reconcileSoon();
  }

  /**
   * Up to `capacity` tasks for a machine. One that shows its own credential may
   * claim only as the machine it was minted for; `null` is a machine run by hand
   * with the shared MACHINE_TOKEN.
   */
  async claim(machineId: string, capacity: number, leaseSec: number, credential: MachineCredential | null = null): Promise<Result<UnsignedTask[]>> {
    const refused = this.refuse(credential, machineId);
    if (refused) return refused;
    const config = readConfig(this.env);
    // What the task runs on, priced now: usage keeps the price the work was done at.
    const machine = this.fleet.label(machineId, config.machinePricePerHourUsd);
    const tasks: UnsignedTask[] = [];
    const exhausted = new Set<string>();
    while (tasks.length < capacity) {
      const next = this.queue.next(exhausted);
      if (!next) break;
      const answer = await jobForQueue(this.env, next.job_id).leaseNext(machineId, leaseSec, machine);
      if (!answer.ok) {
        this.queue.remove(next.job_id);
        continue;
      }
      const { task, work } = answer.value;
      this.queue.write(next.job_id, next.created_at, work, task ? Date.now() : null);
      if (task) tasks.push(task);
      else exhausted.add(next.job_id);
    }
    this.fleet.claimed(machineId, tasks.length > 0, Date.now());
    return ok(tasks);
  }

  /** A machine says it is exiting (idle): its provider is told to end it at once, whatever it does with exited processes. */
  async machineExiting(machineId: string, credential: MachineCredential | null = null): Promise<Result<boolean>> {
    const refused = this.refuse(credential, machineId);
    if (refused) return refused;
    const known = this.fleet.exiting(machineId, Date.now());
    if (known) await this.reconcileSoon();
    return ok(known);
  }

  private refuse(credential: MachineCredential | null, machineId: string): Result<never> | null {
    if (credential === null) return null;
    const identity = this.fleet.identify(credential, machineId);
    switch (identity) {
      case "ok":
        return null;
      case "unknown":
        return fail(401, "unauthorized", `machine credential for ${credential.name}: that machine is gone, or this fleet never made it`);
      case "mismatch":
        return fail(403, "forbidden", `this machine credential is for another machine than ${machineId}`);
      default:
        return assertNever(identity);
    }
  }

  async stats(): Promise<QueueStats> {
    return this.queue.stats();
  }

  async fleetStatus(): Promise<FleetStatus> {
    return this.fleet.status();
  }

  /** The reconcile loop: size the fleet to the work, and retire what is not needed, from the alarm. */
  override async alarm(): Promise<void> {
    const config = readConfig(this.env);
    const fleet = config.fleet;
    if (!fleet) return;
    const now = Date.now();
    await this.verifyLeasedOnly(now);
    try {
      await this.fleet.reconcile(
        providersFor(fleet),
        fleet,
        config.machinePrices,
        config.machinePricePerHourUsd,
        this.queue.stats(),
        this.queue.busyMachines(),
        async (credential) => ({ MACHINE_CREDENTIAL: await mintMachineCredential(config.webhookSigningKey, credential) }),
        now,
      );
      this.fleet.recordTick(now, null);
    } catch (error) {
      // A provider's API is down or refusing: try again at the next tick.
      console.error("fleet reconcile failed", error);
      this.fleet.recordTick(now, (error as Error).message);
    }
    const work = this.queue.stats();
    if (work.pending_tasks + work.leased_tasks > 0 || this.fleet.tracking()) await this.ctx.storage.setAlarm(Date.now() + RECONCILE_MS);
  }

  /** Rewrites stale leased-only rows from their jobs (FairQueue.leasedOnly); a job that is gone has no work, so its row goes. */
  private async verifyLeasedOnly(now: number): Promise<void> {
    for (const row of this.queue.leasedOnly(now - VERIFY_AFTER_MS, VERIFY_PER_TICK)) {
      try {
        this.queue.write(row.job_id, row.created_at, await jobForQueue(this.env, row.job_id).currentWork(), null);
      } catch (error) {
        console.error(`checking the queue row of ${row.job_id} failed; trying at the next tick`, error);
      }
    }
  }

  private async reconcileSoon(): Promise<void> {
    if (!readConfig(this.env).fleet) return;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }
}
