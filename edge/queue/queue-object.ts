import { DurableObject } from "cloudflare:workers";
import type { MachineLabel } from "../../shared/api.ts";
import { assertNever } from "../../shared/assert-never.ts";
import { readConfig, type Config } from "../config.ts";
import { fail, ok, type Result } from "../errors.ts";
import { unmanagedLabel } from "../providers/prices.ts";
import { providersFor } from "../providers/providers.ts";
import { mintMachineCredential, type MachineCredential } from "../tasks/machine-credential.ts";
import { directoryFor, shardIndexOf, type QueueDirectory, type ShardReport } from "./directory.ts";
import { FairQueue, type QueueStats } from "./fair-queue.ts";
import { Fleet, type FleetStatus } from "./fleet.ts";
import { migrateQueue } from "./queue-schema.ts";
import { ShardReports } from "./shard-reports.ts";
import { DIRECTORY_SHARD } from "./shards.ts";
import { jobForQueue, type JobWork, type QueueForJobs, type UnsignedTask } from "./work.ts";

/** Reconcile ticks while there is work or a machine to watch; none when idle (an idle deployment costs nothing). */
const RECONCILE_MS = 10_000;
/** A row with only leased work is checked with its job once nobody has updated it for this long … */
const VERIFY_AFTER_MS = 60_000;
/** … a few per tick, so one tick stays short. */
const VERIFY_PER_TICK = 20;
/**
 * A shard asks the directory about a machine's credential again after this long: the
 * directory then sees one call per machine per interval, not one per claim. A credential
 * the fleet has forgotten (its machine is gone) still claims here until then.
 */
const VOUCH_TTL_MS = 120_000;

/** What one shard hands a claim: its tasks, and what the machine runs on (so the next shard asked need not check again). */
export interface ShardClaim {
  tasks: UnsignedTask[];
  machine: MachineLabel;
}

/**
 * A shard of the work queue: hands machines tasks from its jobs in fair order
 * (FairQueue), asking each job object for its next task at claim time, so the
 * queue can never hand out work a job has already given away.
 *
 * Named by shard (shards.ts): jobs are spread over QUEUE_SHARDS objects by a hash
 * of their id. Shard 0 (`queue:default`) is also the directory: it alone holds the
 * fleet (Fleet) and sizes it from its alarm to its own work plus what the other
 * shards report from theirs (ShardReports), and it vouches for machine credentials
 * the other shards are shown.
 */
export class WorkQueue extends DurableObject<Env> implements QueueForJobs, QueueDirectory {
  private readonly queue: FairQueue;
  private readonly fleet: Fleet;
  private readonly reports: ShardReports;
  /** The directory's answers about credentials, by `provider/name` (VOUCH_TTL_MS). */
  private readonly vouched = new Map<string, { machineId: string; label: MachineLabel; at: number }>();
  private shardIndex: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    migrateQueue(ctx.storage.sql);
    this.queue = new FairQueue(ctx.storage.sql);
    this.fleet = new Fleet(ctx.storage.sql);
    this.reports = new ShardReports(ctx.storage.sql);
  }

  /** This object's place among the shards (read at first use: the config may be unreadable, and then every call says why). */
  private shard(config: Config): number {
    this.shardIndex ??= shardIndexOf(this.env, this.ctx.id, config.queueShards);
    return this.shardIndex;
  }

  async update(jobId: string, owner: string, createdAt: number, work: JobWork): Promise<void> {
    this.queue.write(jobId, createdAt, work, null, owner);
    if (work.pending > 0) await this.reconcileSoon();
  }

  /**
   * Up to `capacity` tasks for a machine. One that shows its own credential may
   * claim only as the machine it was minted for; `null` is a machine run by hand
   * with the shared MACHINE_TOKEN. `vouched`: the label another shard answered for
   * this same claim, its credential already checked.
   */
  async claim(
    machineId: string,
    capacity: number,
    leaseSec: number,
    credential: MachineCredential | null = null,
    vouched: MachineLabel | null = null,
  ): Promise<Result<ShardClaim>> {
    const config = readConfig(this.env);
    const who = vouched === null ? await this.identify(machineId, credential, config) : ok(vouched);
    if (!who.ok) return who;
    // What the task runs on, priced now: usage keeps the price the work was done at.
    const machine = who.value;
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
    if (this.shard(config) === DIRECTORY_SHARD) this.fleet.claimed(machineId, tasks.length > 0, Date.now());
    return ok({ tasks, machine });
  }

  /**
   * Who may claim as `machineId`, and on what it runs. The directory checks the fleet's
   * own rows; another shard asks the directory once per machine per VOUCH_TTL_MS.
   */
  private async identify(machineId: string, credential: MachineCredential | null, config: Config): Promise<Result<MachineLabel>> {
    if (this.shard(config) === DIRECTORY_SHARD) {
      return this.refuse(credential, machineId) ?? ok(this.fleet.label(machineId, config.machinePricePerHourUsd));
    }
    // Machines run by hand are not the fleet's: nothing to check, priced at the default.
    if (credential === null) return ok(unmanagedLabel(config.machinePricePerHourUsd));
    const key = `${credential.provider}/${credential.name}`;
    const now = Date.now();
    const known = this.vouched.get(key);
    if (known && known.machineId === machineId && now - known.at < VOUCH_TTL_MS) return ok(known.label);
    const answer = await directoryFor(this.env).vouch(machineId, credential);
    this.vouched.delete(key);
    // Not kept while the fleet has no row for it yet (its create call still in flight): the label would be the default.
    if (answer.ok && answer.value.provider !== "unmanaged") this.vouched.set(key, { machineId, label: answer.value, at: now });
    if (this.vouched.size > 4 * 1024) for (const [k, v] of this.vouched) if (now - v.at >= VOUCH_TTL_MS) this.vouched.delete(k);
    return answer;
  }

  /** Directory: QueueDirectory.vouch. */
  async vouch(machineId: string, credential: MachineCredential): Promise<Result<MachineLabel>> {
    const refused = this.refuse(credential, machineId);
    if (refused) return refused;
    this.fleet.claimed(machineId, false, Date.now());
    return ok(this.fleet.label(machineId, readConfig(this.env).machinePricePerHourUsd));
  }

  /** Directory: QueueDirectory.report. */
  async report(shard: number, work: ShardReport): Promise<void> {
    this.reports.write(shard, work, Date.now());
    if (work.pending_tasks > 0) await this.reconcileSoon();
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

  /** This shard's own jobs. */
  async stats(): Promise<QueueStats> {
    return this.queue.stats();
  }

  /** The work the fleet is sized to: on the directory, its own jobs plus every other shard's as last reported. */
  async backlog(): Promise<QueueStats> {
    return this.reports.total(this.queue.stats(), readConfig(this.env).queueShards);
  }

  async fleetStatus(): Promise<FleetStatus> {
    return this.fleet.status();
  }

  /**
   * The directory sizes the fleet to the work and retires what is not needed; another
   * shard reports its work to the directory. Both from the alarm, while there is work.
   */
  override async alarm(): Promise<void> {
    const config = readConfig(this.env);
    const fleet = config.fleet;
    if (!fleet) return;
    const now = Date.now();
    await this.verifyLeasedOnly(now);
    const shard = this.shard(config);
    if (shard !== DIRECTORY_SHARD) {
      await this.reportWork(shard);
      return;
    }
    const busy = new Set([...this.queue.busyMachines(), ...this.reports.busy(config.queueShards)]);
    try {
      await this.fleet.reconcile(
        providersFor(fleet),
        fleet,
        config.machinePrices,
        config.machinePricePerHourUsd,
        this.reports.total(this.queue.stats(), config.queueShards),
        busy,
        async (credential) => ({ MACHINE_CREDENTIAL: await mintMachineCredential(config.webhookSigningKey, credential) }),
        now,
      );
      this.fleet.recordTick(now, null);
    } catch (error) {
      // A provider's API is down or refusing: try again at the next tick.
      console.error("fleet reconcile failed", error);
      this.fleet.recordTick(now, (error as Error).message);
    }
    const work = this.reports.total(this.queue.stats(), config.queueShards);
    if (work.pending_tasks + work.leased_tasks > 0 || this.fleet.tracking()) await this.ctx.storage.setAlarm(Date.now() + RECONCILE_MS);
  }

  /** Tells the directory this shard's work; one tick more after it drains (so the directory hears it is empty), and again while the call fails. */
  private async reportWork(shard: number): Promise<void> {
    const work = this.queue.stats();
    let told = true;
    try {
      await directoryFor(this.env).report(shard, { ...work, machines: [...this.queue.busyMachines()] });
    } catch (error) {
      console.error(`shard ${shard} could not report its work to the directory; trying at the next tick`, error);
      told = false;
    }
    if (work.pending_tasks + work.leased_tasks > 0 || !told) await this.ctx.storage.setAlarm(Date.now() + RECONCILE_MS);
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
