import type { TranscriptionJob, WebhookEventType, WebhookPayload, WebhookStatus } from "../../shared/api.ts";
import { assertNever } from "../../shared/assert-never.ts";
import { newId } from "../../shared/ids.ts";
import type { UrlPolicy } from "../url-safety.ts";
import { deliverOnce, nextWebhookStep } from "../webhooks/delivery.ts";
import type { Deadlines } from "./deadlines.ts";
import type { WebhookConfig } from "./job-store.ts";

/** How many delivery attempts the job's `webhook` field lists, newest first. */
const RECENT_ATTEMPTS = 10;

/** "superseded": a progress event that a newer progress or a final event made pointless before it was delivered. */
type EventState = "pending" | "delivered" | "failed" | "superseded";

const FINAL_EVENTS: readonly WebhookEventType[] = ["completed", "failed", "canceled"];

type EventRow = {
  id: string;
  n: number;
  type: string;
  created_at: number;
  body: string;
  state: EventState;
  attempts: number;
  first_attempt_at: number | null;
  last_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
};

/**
 * Webhook events of one job: written in the same transaction as the state
 * change that causes them, delivered later from the alarm (never inside a
 * request), retried with backoff, and each attempt's result kept for the
 * job's `webhook` field. The event id is fixed when the event is written, so
 * every retry carries the same `webhook-id`.
 */
export class WebhookOutbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly deadlines: Deadlines,
  ) {}

  /**
   * Writes an event for delivery. Progress is coalesced: a newer progress supersedes the
   * progress still waiting (a receiver down for a day is not sent 1,440 stale snapshots),
   * and a receiver never sees progress after a final event: none is written once one
   * exists, and a final event supersedes progress already being retried. Returns the
   * event id, or null when a progress event had nothing left to say.
   */
  enqueue(type: WebhookEventType, job: TranscriptionJob, now: number): string | null {
    if (type === "progress" && this.hasFinal()) return null;
    this.supersedeProgress(type === "progress" ? "waiting" : "retrying");
    const id = newId("evt");
    const payload: WebhookPayload = { id, type: `transcription.${type}`, created_at: new Date(now).toISOString(), data: job };
    const n = this.sql.exec<{ n: number }>("SELECT COALESCE(MAX(n), 0) + 1 AS n FROM webhook_events").one().n;
    this.sql.exec(
      "INSERT INTO webhook_events (id, n, type, created_at, body, state) VALUES (?, ?, ?, ?, ?, 'pending')",
      id,
      n,
      type,
      now,
      JSON.stringify(payload),
    );
    this.deadlines.set("webhook", id, now);
    return id;
  }

  /**
   * Runs one delivery attempt of a due event and records it. `stillHere` is asked after the
   * request: a job erased meanwhile has no tables to record in, and nothing left to deliver.
   */
  async attempt(eventId: string, config: WebhookConfig, secret: string, policy: UrlPolicy, now: number, stillHere: () => boolean): Promise<void> {
    const row = this.sql.exec<EventRow>("SELECT * FROM webhook_events WHERE id = ?", eventId).toArray()[0];
    if (row?.state !== "pending") return this.deadlines.clear("webhook", eventId);
    const outcome = await deliverOnce({ url: config.url, secret, eventId, body: row.body }, policy);
    if (!stillHere()) return;
    // A progress event that failed once a final event exists is not tried again: it would arrive after it.
    const stale = row.type === "progress" && this.hasFinal();
    const attempts = row.attempts + 1;
    const firstAttempt = row.first_attempt_at ?? now;
    const step = nextWebhookStep(outcome, attempts, firstAttempt, now);
    const status = outcome.kind === "response" ? outcome.status : null;
    let state: EventState;
    let error: string | null;
    switch (step.kind) {
      case "delivered":
        state = "delivered";
        error = null;
        this.deadlines.clear("webhook", eventId);
        break;
      case "retry":
        state = stale ? "superseded" : "pending";
        error = step.reason;
        if (stale) this.deadlines.clear("webhook", eventId);
        else this.deadlines.set("webhook", eventId, step.atMs);
        break;
      case "give_up":
        state = "failed";
        error = step.reason;
        this.deadlines.clear("webhook", eventId);
        break;
      default:
        return assertNever(step);
    }
    this.sql.exec(
      `UPDATE webhook_events SET state = ?, attempts = ?, first_attempt_at = ?, last_attempt_at = ?, last_status = ?, last_error = ?
       WHERE id = ?`,
      state,
      attempts,
      firstAttempt,
      now,
      status,
      error,
      eventId,
    );
    this.sql.exec("INSERT INTO webhook_attempts (event_id, attempt, at, response_status, error) VALUES (?, ?, ?, ?, ?)", eventId, attempts, now, status, error);
  }

  private hasFinal(): boolean {
    const marks = FINAL_EVENTS.map(() => "?").join(", ");
    return this.sql.exec(`SELECT 1 FROM webhook_events WHERE type IN (${marks}) LIMIT 1`, ...FINAL_EVENTS).toArray().length > 0;
  }

  /** "retrying": only progress already tried, which would otherwise arrive after the final event it predates. */
  private supersedeProgress(which: "waiting" | "retrying"): void {
    const waiting = this.sql
      .exec<{ id: string }>(`SELECT id FROM webhook_events WHERE type = 'progress' AND state = 'pending'${which === "retrying" ? " AND attempts > 0" : ""}`)
      .toArray();
    for (const { id } of waiting) {
      this.sql.exec("UPDATE webhook_events SET state = 'superseded' WHERE id = ?", id);
      this.deadlines.clear("webhook", id);
    }
  }

  status(config: WebhookConfig): WebhookStatus {
    const last = this.sql.exec<EventRow>("SELECT * FROM webhook_events WHERE state != 'superseded' ORDER BY n DESC LIMIT 1").toArray()[0];
    const delivery = ((): WebhookStatus["last_delivery_status"] => {
      if (!last) return "none";
      switch (last.state) {
        case "pending":
          return last.attempts === 0 ? "pending" : "retrying";
        case "delivered":
        case "failed":
          return last.state;
        case "superseded":
          return "none";
        default:
          return assertNever(last.state);
      }
    })();
    return {
      url: config.url,
      events: config.events,
      last_delivery_status: delivery,
      last_response_status: last?.last_status ?? null,
      last_error: last?.last_error ?? null,
      last_attempt_at: last?.last_attempt_at ? new Date(last.last_attempt_at).toISOString() : null,
      attempts: last?.attempts ?? 0,
      recent_attempts: this.sql
        .exec<{ event_id: string; type: string; attempt: number; at: number; response_status: number | null; error: string | null }>(
          `SELECT a.event_id, e.type, a.attempt, a.at, a.response_status, a.error
           FROM webhook_attempts a JOIN webhook_events e ON e.id = a.event_id
           ORDER BY a.at DESC, e.n DESC, a.attempt DESC LIMIT ?`,
          RECENT_ATTEMPTS,
        )
        .toArray()
        .map((a) => ({ ...a, type: a.type as WebhookEventType, at: new Date(a.at).toISOString() })),
    };
  }
}
