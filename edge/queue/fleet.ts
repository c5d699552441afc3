import type { FleetConfig } from "../config.ts";
import { assignStarts, backoffEnd, isFailing, planFleet, type FleetDecision, type ProviderHealth } from "../providers/fleet-plan.ts";
import { ACTIVE_STATES, type FleetMachine, type MachineProvider } from "../providers/machine-provider.ts";
import type { MachineCredential } from "../tasks/machine-credential.ts";
import { pricePerHour, unmanagedLabel, type PriceTable } from "../providers/prices.ts";
import type { MachineLabel } from "../../shared/api.ts";

/**
 * The queue's fleet: which machines it started, on which provider and machine
 * type, whether each has claimed work and when it last worked, and how each
 * provider has been doing. The queue object owns the alarm and the work; this
 * owns these tables and the reconcile step, behind a narrow host interface.
 */

export interface FleetWork {
  pending_tasks: number;
  pending_plans: number;
  pending_audio_sec: number;
  leased_tasks: number;
  leased_audio_sec: number;
}

export type ProviderStatus = { name: string; active: number; failures: number; last_failure_at: number | null; last_error: string | null };
export type MachineStatus = {
  machine_id: string;
  provider: string;
  machine_type: string;
  price_per_hour_usd: number;
  started_at: number;
  claimed_at: number | null;
  last_work_at: number | null;
  exiting_at: number | null;
};

export type FleetStatus = {
  desired: number;
  active: number;
  /** Failures in a row over all providers (starts refused, machines dead before their first claim). */
  failed_starts: number;
  backoff_until: number | null;
  last_reconcile_at: number | null;
  last_error: string | null;
  providers: ProviderStatus[];
  machines: MachineStatus[];
};

/** Mints a new machine's credential env (the queue holds the edge secret; the fleet keeps the rows). */
export type MintCredential = (credential: MachineCredential) => Promise<Record<string, string>>;

/** Whether a machine's credential lets it act as the machine id it sends. */
export type Identity = "ok" | "unknown" | "mismatch";

/** States after which a machine is gone for good and nothing of it bills. */
const GONE_STATES: ReadonlySet<string> = new Set(["destroyed", "destroying", "terminated"]);

export class Fleet {
  /** Its tables are the queue's (queue-schema.ts). */
  constructor(private readonly sql: SqlStorage) {}

  /**
   * A machine asked for work. Its first claim proves its provider starts
   * machines that work, which ends that provider's run of failures.
   */
  claimed(machineId: string, gotWork: boolean, now: number): void {
    const row = this.sql
      .exec<{ provider: string; claimed_at: number | null }>("SELECT provider, claimed_at FROM machines WHERE machine_id = ?", machineId)
      .toArray()[0];
    if (!row) return;
    this.sql.exec(
      "UPDATE machines SET claimed_at = COALESCE(claimed_at, ?), last_work_at = CASE WHEN ? THEN ? ELSE last_work_at END WHERE machine_id = ?",
      now,
      gotWork ? 1 : 0,
      now,
      machineId,
    );
    if (row.claimed_at === null) this.sql.exec("UPDATE providers SET failures = 0, last_failure_at = NULL WHERE name = ?", row.provider);
  }

  /** The machine says it is exiting (idle): the next tick retires it, whatever its provider does with an exited process. */
  exiting(machineId: string, now: number): boolean {
    this.sql.exec("UPDATE machines SET exiting_at = COALESCE(exiting_at, ?) WHERE machine_id = ?", now, machineId);
    return this.sql.exec<{ n: number }>("SELECT changes() AS n").one().n > 0;
  }

  /**
   * Checks a credential against the id its machine sends. Its name is bound to the
   * provider's id when the create call answers; a machine that claims before that
   * (the create is still in flight) binds it with its first claim, since only that
   * machine holds the credential. A credential whose machine is gone has no row.
   */
  identify(credential: MachineCredential, machineId: string): Identity {
    const row = this.sql
      .exec<{ machine_id: string | null }>("SELECT machine_id FROM machine_credentials WHERE name = ? AND provider = ?", credential.name, credential.provider)
      .toArray()[0];
    if (!row) return "unknown";
    if (row.machine_id !== null) return row.machine_id === machineId ? "ok" : "mismatch";
    const taken = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM machine_credentials WHERE machine_id = ?", machineId).one().n > 0;
    if (taken) return "mismatch";
    this.sql.exec("UPDATE machine_credentials SET machine_id = ? WHERE name = ?", machineId, credential.name);
    return "ok";
  }

  label(machineId: string, fallbackPricePerHourUsd: number): MachineLabel {
    const row = this.sql.exec<MachineLabel>("SELECT provider, machine_type, price_per_hour_usd FROM machines WHERE machine_id = ?", machineId).toArray()[0];
    return row ?? unmanagedLabel(fallbackPricePerHourUsd);
  }

  /** Whether anything is left to watch: machines up, starting, or not yet retired. */
  tracking(): boolean {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM machines").one().n > 0;
  }

  status(): FleetStatus {
    const fleet = this.sql
      .exec<Omit<FleetStatus, "providers" | "machines">>("SELECT desired, active, failed_starts, backoff_until, last_reconcile_at, last_error FROM fleet")
      .one();
    const providers = this.sql.exec<ProviderStatus>("SELECT name, active, failures, last_failure_at, last_error FROM providers ORDER BY rowid").toArray();
    const machines = this.sql.exec<MachineStatus>("SELECT * FROM machines ORDER BY started_at, machine_id").toArray();
    return { ...fleet, failed_starts: providers.reduce((sum, p) => sum + p.failures, 0), providers, machines };
  }

  recordTick(now: number, error: string | null): void {
    this.sql.exec("UPDATE fleet SET last_reconcile_at = ?, last_error = ?", now, error === null ? null : error.slice(0, 500));
  }

  /**
   * One reconcile step: learn what each provider runs, retire what should not
   * run (exited, idle past IDLE_EXIT_SEC + grace, never claimed), then start
   * what the work calls for, provider by provider in order of preference.
   */
  async reconcile(
    providers: readonly MachineProvider[],
    config: FleetConfig,
    prices: PriceTable,
    fallbackPrice: number,
    work: FleetWork,
    busy: ReadonlySet<string>,
    mint: MintCredential,
    now: number,
  ): Promise<FleetDecision> {
    const health = new Map<string, ProviderHealth>();
    // A provider taken out of MACHINE_PROVIDER: its machines are no longer ours to watch (or the
    // alarm would tick for them for ever); whatever still runs there exits when idle.
    const named = providers.map((p) => p.name);
    const dropped = this.sql
      .exec<{ provider: string; n: number }>(
        `SELECT provider, COUNT(*) AS n FROM machines WHERE provider NOT IN (${named.map(() => "?").join(", ")}) GROUP BY provider`,
        ...named,
      )
      .toArray();
    for (const d of dropped) console.warn(`provider ${d.provider} is no longer configured: forgetting its ${d.n} machine(s)`);
    this.sql.exec(`DELETE FROM machines WHERE provider NOT IN (${named.map(() => "?").join(", ")})`, ...named);
    this.sql.exec(`DELETE FROM machine_credentials WHERE provider NOT IN (${named.map(() => "?").join(", ")})`, ...named);
    this.sql.exec(`DELETE FROM providers WHERE name NOT IN (${named.map(() => "?").join(", ")})`, ...named);
    for (const p of providers) {
      this.sql.exec("INSERT OR IGNORE INTO providers (name) VALUES (?)", p.name);
      const row = this.sql
        .exec<{ failures: number; last_failure_at: number | null }>("SELECT failures, last_failure_at FROM providers WHERE name = ?", p.name)
        .one();
      const h = { name: p.name, active: 0, failures: row.failures, lastFailureAt: row.last_failure_at };
      if (h.failures > 0 && !isFailing(h, now)) {
        this.sql.exec("UPDATE providers SET failures = 0, last_failure_at = NULL WHERE name = ?", p.name);
        h.failures = 0;
        h.lastFailureAt = null;
      }
      health.set(p.name, h);
      let machines: FleetMachine[];
      try {
        machines = await p.list();
      } catch (error) {
        // Its machines are unknown this tick: judge none of them, count those not retired, and
        // start none there. Ticks while it backs off do not deepen the back-off.
        const message = `list: ${(error as Error).message}`;
        if (isFailing(h, now) && now < backoffEnd(h)) this.sql.exec("UPDATE providers SET last_error = ? WHERE name = ?", message.slice(0, 500), p.name);
        else this.failure(h, message, now);
        h.active = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM machines WHERE provider = ? AND exiting_at IS NULL", p.name).one().n;
        continue;
      }
      h.active = await this.review(p, h, machines, config, prices, fallbackPrice, busy, now);
    }
    const decision = planFleet({
      pendingTasks: work.pending_tasks,
      pendingPlans: work.pending_plans,
      pendingAudioSec: work.pending_audio_sec,
      leasedTasks: work.leased_tasks,
      leasedAudioSec: work.leased_audio_sec,
      maxMachines: config.maxMachines,
      audioSecPerMachine: config.audioSecPerMachine,
      providers: [...health.values()],
      now,
    });
    let assign = decision.assign;
    let left = decision.start;
    // A provider that stops short hands the rest to the next one in the same tick.
    for (let round = 0; round <= providers.length && left > 0 && assign.length > 0; round++) {
      for (const a of assign) {
        const p = providers.find((x) => x.name === a.provider)!;
        const h = health.get(a.provider)!;
        const result = await p.ensure(h.active + a.count, async (name) => {
          // The row first: the machine may claim before the create call answers.
          this.sql.exec("INSERT OR REPLACE INTO machine_credentials (name, provider, issued_at) VALUES (?, ?, ?)", name, p.name, now);
          return mint({ provider: p.name, name });
        });
        for (const m of result.created) {
          if (m.name !== undefined)
            this.sql.exec("UPDATE OR IGNORE machine_credentials SET machine_id = ? WHERE name = ? AND machine_id IS NULL", m.id, m.name);
        }
        const made = [...result.started, ...result.created];
        for (const m of made) {
          this.sql.exec(
            "INSERT OR REPLACE INTO machines (machine_id, provider, machine_type, price_per_hour_usd, started_at) VALUES (?, ?, ?, ?, ?)",
            m.id,
            p.name,
            m.machine_type,
            pricePerHour(prices, p.name, m.machine_type, fallbackPrice),
            now,
          );
        }
        h.active = Math.max(h.active, result.active);
        left -= Math.min(a.count, made.length);
        if (result.failure) {
          console.warn(`provider ${p.name} started ${made.length} of ${a.count}: ${result.failure.kind}: ${result.failure.message}`);
          this.failure(h, `${result.failure.kind}: ${result.failure.message}`, now);
          break;
        }
      }
      assign = left > 0 ? assignStarts(left, [...health.values()], now).assign : [];
    }
    const active = [...health.values()].reduce((sum, h) => sum + h.active, 0);
    for (const h of health.values()) this.sql.exec("UPDATE providers SET active = ? WHERE name = ?", h.active, h.name);
    this.sql.exec("UPDATE fleet SET desired = ?, active = ?, backoff_until = ?", decision.desired, active, decision.backoffUntil);
    return decision;
  }

  /** Judges one provider's machines; returns how many of them are up after it. */
  private async review(
    p: MachineProvider,
    h: ProviderHealth,
    machines: readonly FleetMachine[],
    config: FleetConfig,
    prices: PriceTable,
    fallbackPrice: number,
    busy: ReadonlySet<string>,
    now: number,
  ): Promise<number> {
    const rows = new Map(
      this.sql
        .exec<MachineStatus>("SELECT * FROM machines WHERE provider = ?", p.name)
        .toArray()
        .map((r) => [r.machine_id, r]),
    );
    const listed = new Set(machines.map((m) => m.id));
    let active = 0;
    for (const m of machines) {
      const row = rows.get(m.id);
      if (ACTIVE_STATES.has(m.state)) {
        if (!row) {
          // Up but unknown here (started before this table existed): watched from now on.
          this.sql.exec(
            "INSERT INTO machines (machine_id, provider, machine_type, price_per_hour_usd, started_at, claimed_at, last_work_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            m.id,
            p.name,
            m.machine_type,
            pricePerHour(prices, p.name, m.machine_type, fallbackPrice),
            now,
            now,
            now,
          );
          active += 1;
          continue;
        }
        if (busy.has(m.id)) this.sql.exec("UPDATE machines SET last_work_at = ? WHERE machine_id = ?", now, m.id);
        const why = retireReason(row, busy.has(m.id), config, now);
        if (why === null) {
          active += 1;
          continue;
        }
        if (why === "never claimed") this.failure(h, `machine ${m.id} did not claim work within ${config.startGraceSec} s of its start`, now);
        console.warn(`retiring ${p.name} machine ${m.id} (${m.machine_type}): ${why}`);
        if (!(await this.retire(p, m.id))) active += 1;
        else
          this.sql.exec("UPDATE machines SET claimed_at = COALESCE(claimed_at, ?), exiting_at = COALESCE(exiting_at, ?) WHERE machine_id = ?", now, now, m.id);
        continue;
      }
      // Not running: a start that died before its first claim is a failed start.
      if (row && row.claimed_at === null) this.failure(h, `machine ${m.id} is ${m.state} without having claimed work`, now);
      const lingers = !p.keepsStopped && !GONE_STATES.has(m.state);
      if (lingers) {
        // A stopped pod still bills for its disk, and may be restarted by the platform.
        if (!row)
          this.sql.exec(
            "INSERT INTO machines (machine_id, provider, machine_type, price_per_hour_usd, started_at, claimed_at, exiting_at) VALUES (?, ?, ?, 0, ?, ?, ?)",
            m.id,
            p.name,
            m.machine_type,
            now,
            now,
            now,
          );
        else
          this.sql.exec("UPDATE machines SET claimed_at = COALESCE(claimed_at, ?), exiting_at = COALESCE(exiting_at, ?) WHERE machine_id = ?", now, now, m.id);
        await this.retire(p, m.id);
      } else if (row) this.sql.exec("DELETE FROM machines WHERE machine_id = ?", m.id);
    }
    for (const row of rows.values()) {
      if (listed.has(row.machine_id)) continue;
      if (row.claimed_at === null) this.failure(h, `machine ${row.machine_id} is gone without having claimed work`, now);
      this.sql.exec("DELETE FROM machines WHERE machine_id = ?", row.machine_id);
    }
    this.forgetCredentials(p.name, machines, config, now);
    return active;
  }

  /**
   * A machine that is gone takes its credential with it; a credential never bound
   * (its create failed without an answer, and nothing ever claimed with it) goes
   * once a machine would have been judged dead. A stopped machine kept for reuse
   * keeps its credential: it runs with it again when started.
   */
  private forgetCredentials(provider: string, machines: readonly FleetMachine[], config: FleetConfig, now: number): void {
    const existing = new Set(machines.filter((m) => !GONE_STATES.has(m.state)).map((m) => m.id));
    const rows = this.sql
      .exec<{ name: string; machine_id: string | null; issued_at: number }>(
        "SELECT name, machine_id, issued_at FROM machine_credentials WHERE provider = ?",
        provider,
      )
      .toArray();
    for (const row of rows) {
      const gone = row.machine_id === null ? now - row.issued_at > config.startGraceSec * 1000 : !existing.has(row.machine_id);
      if (gone) this.sql.exec("DELETE FROM machine_credentials WHERE name = ?", row.name);
    }
  }

  private async retire(p: MachineProvider, id: string): Promise<boolean> {
    try {
      await p.retire(id);
      return true;
    } catch (error) {
      // Tried again next tick: the row stays, and so does the alarm.
      console.error(`could not retire ${p.name} machine ${id}`, error);
      this.sql.exec("UPDATE fleet SET last_error = ?", `retire ${p.name} ${id}: ${(error as Error).message}`.slice(0, 500));
      return false;
    }
  }

  private failure(h: ProviderHealth, message: string, now: number): void {
    h.failures += 1;
    h.lastFailureAt = now;
    this.sql.exec("UPDATE providers SET failures = failures + 1, last_failure_at = ?, last_error = ? WHERE name = ?", now, message.slice(0, 500), h.name);
  }
}

/** Why a running machine should be retired now, or null while it should run. */
function retireReason(row: MachineStatus, busy: boolean, config: FleetConfig, now: number): "said it is exiting" | "never claimed" | "idle" | null {
  if (row.exiting_at !== null) return "said it is exiting";
  if (busy) return null;
  if (row.claimed_at === null) return now - row.started_at > config.startGraceSec * 1000 ? "never claimed" : null;
  const lastWork = Math.max(row.claimed_at, row.last_work_at ?? 0);
  return now - lastWork > (config.idleExitSec + config.idleGraceSec) * 1000 ? "idle" : null;
}
