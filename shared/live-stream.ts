import { FINAL_STATUSES, type JobStatus } from "./api.ts";
import { backoffDelayMs, type BackoffOptions } from "./retry.ts";
import { sleep as realSleep } from "./sleep.ts";
import { SseParser, type SseEvent } from "./sse.ts";

/**
 * Follows a job's live events (`GET /v1/transcriptions/{id}/events`) until
 * the job ends, for the web page and the CLI alike: each client says how to
 * open the stream and what its errors mean; this reconnects with
 * `Last-Event-ID` when the stream drops, and backs off when it cannot open.
 */

/** What a failure to open the stream means: try again later, give up, or the server has no such stream (an older one). */
export type OpenFailure = "retry" | "fatal" | "unavailable";

export interface FollowStreamOptions {
  /** Opens the stream after `lastEventId` (null: from the start); rejects when it cannot. */
  open(lastEventId: string | null, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  classify(error: unknown): OpenFailure;
  /** Each event, in order. */
  onEvent(e: SseEvent): void;
  /** The connection dropped before the job ended; what came after the last id comes again on the next. */
  onDrop?(): void;
  lastEventId?: string | null;
  signal?: AbortSignal | undefined;
  /** Between tries that got nothing; by default from 1 s to 30 s. */
  backoff?: BackoffOptions;
  /** Tries in a row that get nothing before giving up (default 8). */
  attempts?: number;
  /** A stream silent this long is taken for dead and reopened; the server sends a keep-alive every 15 s. */
  idleMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export type FollowOutcome =
  /**
   * The stream said the job ended. `backlogMissing`: that status was all the
   * last connection sent (a server that ends a finished job's stream at once),
   * so whatever merged after the last id must be fetched whole.
   */
  | { kind: "ended"; status: JobStatus; backlogMissing: boolean }
  /** The stream never opened: the caller falls back to polling. */
  | { kind: "unavailable"; error: unknown }
  | { kind: "aborted" };

/** A connection that lasted this long was worth having, even if no merge came: the next try starts the backoff over. */
const USEFUL_CONNECTION_MS = 10_000;
/** After the final status the server closes the stream; one that stays open is not waited for longer. */
const CLOSE_GRACE_MS = 5_000;

export async function followEventStream(opts: FollowStreamOptions): Promise<FollowOutcome> {
  const sleep = opts.sleep ?? realSleep;
  const now = opts.now ?? Date.now;
  const backoff = opts.backoff ?? { baseMs: 1000, capMs: 30_000 };
  const attempts = opts.attempts ?? 8;
  let lastEventId = opts.lastEventId ?? null;
  let retryMs: number | null = null;
  let delivered = false;
  let failures = 0;
  for (;;) {
    if (opts.signal?.aborted) return { kind: "aborted" };
    const connection = new AbortController();
    const stop = () => connection.abort();
    opts.signal?.addEventListener("abort", stop, { once: true });
    try {
      let stream: ReadableStream<Uint8Array>;
      try {
        stream = await opts.open(lastEventId, connection.signal);
      } catch (error) {
        if (opts.signal?.aborted) return { kind: "aborted" };
        const kind = opts.classify(error);
        // Once the stream has worked, "no such stream" means the job is gone.
        if (kind === "unavailable" && !delivered) return { kind: "unavailable", error };
        if (kind !== "retry") throw error;
        if (++failures >= attempts) {
          if (!delivered) return { kind: "unavailable", error };
          throw error;
        }
        await sleep(backoffDelayMs(failures, backoff), opts.signal);
        continue;
      }
      const openedAt = now();
      const parser = new SseParser(lastEventId ?? "");
      const read = await readConnection(stream, parser, opts.onEvent, opts.idleMs ?? 45_000, connection);
      if (read.events > 0) delivered = true;
      const moved = (parser.lastEventId || null) !== lastEventId;
      lastEventId = parser.lastEventId || null;
      retryMs = parser.retryMs ?? retryMs;
      if (read.final) return { kind: "ended", status: read.final, backlogMissing: read.backlogMissing };
      if (opts.signal?.aborted) return { kind: "aborted" };
      opts.onDrop?.();
      if (moved || now() - openedAt >= USEFUL_CONNECTION_MS) {
        failures = 0;
        await sleep(retryMs ?? backoff.baseMs, opts.signal);
      } else {
        if (++failures >= attempts) throw new Error(`the event stream dropped ${failures} times in a row`);
        await sleep(Math.max(retryMs ?? 0, backoffDelayMs(failures, backoff)), opts.signal);
      }
    } finally {
      opts.signal?.removeEventListener("abort", stop);
    }
  }
}

interface ConnectionRead {
  /** The final status this connection gave, if it did. */
  final: JobStatus | null;
  backlogMissing: boolean;
  events: number;
}

/** Reads one connection until the server closes it, it goes silent, or it is aborted. */
async function readConnection(
  stream: ReadableStream<Uint8Array>,
  parser: SseParser,
  onEvent: (e: SseEvent) => void,
  idleMs: number,
  connection: AbortController,
): Promise<ConnectionRead> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  const result: ConnectionRead = { final: null, backlogMissing: false, events: 0 };
  const cancel = () => void reader.cancel().catch(() => undefined);
  let timer = setTimeout(cancel, idleMs);
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(cancel, result.final ? CLOSE_GRACE_MS : idleMs);
  };
  connection.signal.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        break; // the network or the server broke it off
      }
      if (chunk.done) break;
      arm();
      for (const e of parser.push(decoder.decode(chunk.value, { stream: true }))) {
        result.events += 1;
        if (result.final) result.backlogMissing = false;
        if (e.event === "status") {
          const status = statusOf(e.data);
          if (status && FINAL_STATUSES.has(status)) {
            // The first event being the end means the server sent nothing of what came before it.
            if (!result.final) result.backlogMissing = result.events === 1;
            result.final = status;
            arm();
          }
        }
        onEvent(e);
      }
    }
  } finally {
    clearTimeout(timer);
    connection.signal.removeEventListener("abort", cancel);
    cancel();
  }
  return result;
}

function statusOf(data: string): JobStatus | null {
  try {
    const status = (JSON.parse(data) as { status?: unknown }).status;
    return typeof status === "string" ? (status as JobStatus) : null;
  } catch {
    return null;
  }
}
