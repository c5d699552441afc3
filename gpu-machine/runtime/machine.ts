import type { Task } from "../../shared/protocol.ts";
import type { RunningConfig } from "../config.ts";
import type { ChunkEngine } from "../engine/whisper-engine.ts";
import { MediaError } from "../media/errors.ts";
import type { FfmpegBinaries } from "../media/ffmpeg-binaries.ts";
import { EdgeClient, EdgeError } from "./edge-client.ts";
import { runTask } from "./run-task.ts";
import { sleep } from "../../shared/sleep.ts";

export interface MachineOptions {
  config: RunningConfig & { EDGE_URL: string };
  /** What it shows the edge to claim work: its own MACHINE_CREDENTIAL, or the shared MACHINE_TOKEN. */
  credential: string;
  engine: ChunkEngine;
  binaries: FfmpegBinaries;
  log?: (line: string) => void;
}

/** Why a task was called off: the edge said so, or this machine is shutting down. */
class TaskStopped extends Error {
  constructor(readonly why: "canceled" | "superseded" | "job_finished" | "shutdown") {
    super(`task stopped: ${why}`);
  }
}

/**
 * One machine: claims tasks from the edge, runs them (heartbeating in the
 * background), posts results, and exits after IDLE_EXIT_SEC without work, so a
 * machine nobody needs costs nothing. `shutdown()` (SIGTERM) stops claiming and
 * gives running tasks back as retryable failures within SHUTDOWN_GRACE_SEC.
 */
export class Machine {
  private readonly client: EdgeClient;
  private readonly active = new Map<string, { task: Task; controller: AbortController; done: Promise<void> }>();
  private readonly stopping = new AbortController();
  private readonly log: (line: string) => void;
  readonly id: string;

  constructor(private readonly options: MachineOptions) {
    this.client = new EdgeClient(options.config.EDGE_URL, options.credential);
    this.id = options.config.MACHINE_ID;
    this.log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} ${this.id} ${line}\n`));
  }

  /** Resolves when the machine has stopped: idle long enough, or shut down. */
  async run(): Promise<"idle" | "shutdown"> {
    const { MACHINE_CAPACITY: capacity, IDLE_EXIT_SEC: idleExitSec } = this.options.config;
    let idleSince = Date.now();
    let emptyClaims = 0;
    while (!this.stopping.signal.aborted) {
      if (this.active.size > 0) idleSince = Date.now();
      let claimed: Task[] = [];
      if (this.active.size < capacity) {
        try {
          claimed = await this.client.claim(this.id, capacity - this.active.size);
        } catch (error) {
          this.log(`claim failed: ${(error as Error).message}`);
        }
      }
      for (const task of claimed) this.start(task);
      if (claimed.length > 0) {
        emptyClaims = 0;
        idleSince = Date.now();
        continue;
      }
      if (this.active.size === 0 && Date.now() - idleSince >= idleExitSec * 1000) {
        this.log(`no work for ${idleExitSec} s; exiting`);
        await this.sayExiting();
        return "idle";
      }
      emptyClaims += 1;
      // Poll quickly at first so a new job starts at once, then back off to 2 s.
      const wait = Math.min(2_000, 100 * 2 ** Math.min(emptyClaims, 5));
      await Promise.race([sleep(wait, this.stopping.signal), ...[...this.active.values()].map((a) => a.done)]);
    }
    return "shutdown";
  }

  /** Best effort: an edge that does not hear it retires the machine after IDLE_EXIT_SEC + its grace anyway. */
  private async sayExiting(): Promise<void> {
    try {
      await this.client.exit(this.id, "idle");
    } catch (error) {
      this.log(`could not tell the edge this machine is exiting: ${(error as Error).message}`);
    }
  }

  /** SIGTERM: no new claims; running tasks are given back (fail, retryable) within the grace period. */
  shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      for (const a of this.active.values()) a.controller.abort(new TaskStopped("shutdown"));
      // The grace timer is cleared once tasks are done: left running it would keep an idle machine's process alive.
      const graceOver = new AbortController();
      const grace = sleep(this.options.config.SHUTDOWN_GRACE_SEC * 1000, graceOver.signal);
      await Promise.race([Promise.allSettled([...this.active.values()].map((a) => a.done)), grace]);
      graceOver.abort();
    })();
    return this.stopped;
  }

  private stopped: Promise<void> | null = null;

  private start(task: Task): void {
    const controller = new AbortController();
    const entry = { task, controller, done: Promise.resolve() };
    entry.done = this.execute(task, controller).finally(() => this.active.delete(task.task_id));
    this.active.set(task.task_id, entry);
  }

  private async execute(task: Task, controller: AbortController): Promise<void> {
    const label =
      task.kind === "range"
        ? `${task.task_id} [${task.start_sec.toFixed(1)}–${task.end_sec.toFixed(1)} s] attempt ${task.attempt}`
        : `${task.task_id} attempt ${task.attempt}`;
    this.log(`start ${label}`);
    const heartbeat = this.heartbeat(task, controller);
    try {
      await runTask(task, {
        client: this.client,
        engine: this.options.engine,
        binaries: this.options.binaries,
        config: this.options.config,
        signal: controller.signal,
      });
      this.log(`done ${label}`);
    } catch (error) {
      await this.report(task, label, controller.signal.reason ?? error);
    } finally {
      controller.abort(new TaskStopped("job_finished"));
      await heartbeat;
    }
  }

  /** Extends the lease every third of it; tells the task to stop when the edge says so. */
  private async heartbeat(task: Task, controller: AbortController): Promise<void> {
    const every = Math.max(1_000, (task.lease_sec * 1000) / 3);
    while (!controller.signal.aborted) {
      await sleep(every, controller.signal);
      if (controller.signal.aborted) return;
      try {
        const answer = await this.client.heartbeat(task);
        if (!answer.continue) {
          this.log(`stopping ${task.task_id}: ${answer.reason}`);
          controller.abort(new TaskStopped(answer.reason));
        }
      } catch (error) {
        if (error instanceof EdgeError && error.superseded) controller.abort(new TaskStopped("superseded"));
        else this.log(`heartbeat failed for ${task.task_id}: ${(error as Error).message}`);
      }
    }
  }

  private async report(task: Task, label: string, cause: unknown): Promise<void> {
    if (cause instanceof TaskStopped && cause.why !== "shutdown") {
      this.log(`stopped ${label}: ${cause.why}`);
      return;
    }
    if (cause instanceof EdgeError && cause.superseded) {
      // A post or completion was refused: the heartbeat says why (a cancel often reaches a post first).
      const why = await this.client.heartbeat(task).then(
        (a) => (a.continue ? null : a.reason),
        () => null,
      );
      if (why) this.log(`stopping ${task.task_id}: ${why}`);
      this.log(`stopped ${label}: ${why ?? `the edge moved on (${cause.code})`}`);
      return;
    }
    const failure =
      cause instanceof TaskStopped
        ? { retryable: true, code: "machine_shutdown", message: `machine ${this.id} is shutting down` }
        : cause instanceof MediaError
          ? { retryable: cause.retryable, code: cause.code, message: cause.message }
          : { retryable: true, code: "machine_error", message: (cause as Error)?.message ?? String(cause) };
    this.log(`failed ${label}: ${failure.code}: ${failure.message}`);
    try {
      await this.client.fail(task, failure);
    } catch (error) {
      // The lease will run out and the edge hands the task on; nothing is lost.
      this.log(`could not report the failure of ${task.task_id}: ${(error as Error).message}`);
    }
  }
}
