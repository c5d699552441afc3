import {
  ClaimResponse,
  HeartbeatResponse,
  PROTOCOL_VERSION,
  type CompleteRequest,
  type ExitNotice,
  type FailRequest,
  type HeartbeatRequest,
  type SegmentsPost,
  type SettleRequest,
  SettleResponse,
  type Task,
} from "../../shared/protocol.ts";
import { retry } from "../../shared/retry.ts";

/** An answer from the edge that is not success; `status` 0 when it never answered. */
export class EdgeError extends Error {
  override readonly name = "EdgeError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** The edge has moved on from this attempt (or job): stop, post nothing more. */
  get superseded(): boolean {
    return this.status === 409 || this.status === 404;
  }

  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

type Body<T> = Omit<T, "version" | "attempt">;

/**
 * The machine's side of shared/protocol.ts. Network failures and 5xx are retried
 * with the project's jittered backoff; 4xx are answers and come back as EdgeError.
 */
export class EdgeClient {
  constructor(
    private readonly baseUrl: string,
    private readonly machineToken: string,
    private readonly attempts = 5,
  ) {}

  async claim(machineId: string, capacity: number): Promise<Task[]> {
    const res = await this.send("/v1/machine/claim", this.machineToken, { version: PROTOCOL_VERSION, machine_id: machineId, capacity });
    if (res.status === 204) return [];
    return ClaimResponse.parse(await res.json()).tasks;
  }

  /** Tells the edge this machine is leaving, so its provider ends it (a restarted pod would bill on). */
  async exit(machineId: string, reason: ExitNotice["reason"]): Promise<void> {
    await this.send("/v1/machine/exit", this.machineToken, { version: PROTOCOL_VERSION, machine_id: machineId, reason });
  }

  async heartbeat(task: Task, body: Body<HeartbeatRequest> = {}): Promise<HeartbeatResponse> {
    return HeartbeatResponse.parse(await (await this.taskPost(task, "heartbeat", body)).json());
  }

  async segments(task: Task, body: Body<SegmentsPost>): Promise<void> {
    await this.taskPost(task, "segments", body);
  }

  /** Proposes quiet points for a range's unsettled edges; answers the edges both neighbours keep. */
  async settle(task: Task, body: Body<SettleRequest>): Promise<SettleResponse> {
    return SettleResponse.parse(await (await this.taskPost(task, "boundaries", body)).json());
  }

  async complete(task: Task, body: Body<CompleteRequest>): Promise<void> {
    await this.taskPost(task, "complete", body);
  }

  async fail(task: Task, body: Body<FailRequest>): Promise<void> {
    await this.taskPost(task, "fail", body);
  }

  private taskPost(task: Task, action: string, body: object): Promise<Response> {
    return this.send(`/v1/machine/tasks/${encodeURIComponent(task.task_id)}/${action}`, task.task_token, {
      version: PROTOCOL_VERSION,
      attempt: task.attempt,
      ...body,
    });
  }

  private send(path: string, token: string, body: unknown): Promise<Response> {
    return retry(
      async () => {
        let res: Response;
        try {
          res = await fetch(new URL(path, this.baseUrl), {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(30_000),
          });
        } catch (error) {
          throw new EdgeError(0, "edge_unreachable", `${path}: ${(error as Error).message}`);
        }
        if (res.ok) return res;
        const text = await res.text();
        let code = "http_error";
        let message = text.slice(0, 300);
        try {
          const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
          code = parsed.error?.code ?? code;
          message = parsed.error?.message ?? message;
        } catch {
          // not JSON: keep the raw text
        }
        throw new EdgeError(res.status, code, `${path}: ${res.status} ${code}: ${message}`);
      },
      { attempts: this.attempts, baseMs: 500, capMs: 5_000, retryable: (e) => e instanceof EdgeError && e.retryable },
    );
  }
}
