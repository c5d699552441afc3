/**
 * Every future action of a job object (a lease running out, a webhook retry)
 * is a row here, and the object's single alarm is kept at the earliest row.
 */
export type DeadlineKind = "webhook" | "range_lease" | "plan_lease" | "queue_notify" | "index_add" | "index_sync";

export interface Deadline {
  kind: DeadlineKind;
  ref: string;
  due: number;
}

export class Deadlines {
  constructor(private readonly storage: DurableObjectStorage) {}

  set(kind: DeadlineKind, ref: string, due: number): void {
    this.storage.sql.exec("INSERT INTO deadlines (kind, ref, due) VALUES (?, ?, ?) ON CONFLICT (kind, ref) DO UPDATE SET due = excluded.due", kind, ref, due);
  }

  clear(kind: DeadlineKind, ref?: string): void {
    if (ref === undefined) this.storage.sql.exec("DELETE FROM deadlines WHERE kind = ?", kind);
    else this.storage.sql.exec("DELETE FROM deadlines WHERE kind = ? AND ref = ?", kind, ref);
  }

  /**
   * Due rows, earliest first. They stay in the table: each handler clears or
   * moves its own row, so an alarm that dies half-way loses nothing.
   */
  due(now: number): Deadline[] {
    return this.storage.sql
      .exec<{ kind: DeadlineKind; ref: string; due: number }>("SELECT kind, ref, due FROM deadlines WHERE due <= ? ORDER BY due, kind, ref", now)
      .toArray();
  }

  earliest(): number | null {
    return this.storage.sql.exec<{ due: number | null }>("SELECT MIN(due) AS due FROM deadlines").one().due;
  }

  /** Points the alarm at the earliest deadline, or removes it. */
  async arm(): Promise<void> {
    const next = this.earliest();
    if (next === null) await this.storage.deleteAlarm();
    else if ((await this.storage.getAlarm()) !== next) await this.storage.setAlarm(next);
  }
}

/**
 * A job object's time: the real clock, plus an offset that only tests move
 * (through runInDurableObject; it is a field, never an RPC method), so that a
 * test can let a lease run out or a day of webhook retries pass without waiting.
 */
export class Clock {
  offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }
}
