import { z } from "zod";
import { ProviderApi, type Rate } from "./provider-api.ts";

/**
 * A small typed client for RunPod's Pods REST API, version 2
 * (https://api.runpod.io/v2; RunPod's OpenAPI "Runpod REST API" 2.0.0). v1
 * (rest.runpod.io/v1) was retired on 2026-11-15. Only the fields this project
 * sends or reads are declared; answers are parsed loosely, so fields RunPod
 * adds later pass through.
 */

/** PodStatus: PROVISIONING → STARTING → RUNNING; EXITED (stopped), ERROR, TERMINATED (deleted). */
export const POD_STATUSES = ["PROVISIONING", "STARTING", "RUNNING", "EXITED", "ERROR", "TERMINATED"] as const;

export const Pod = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  // Unknown future statuses are kept as strings rather than failing the whole list.
  status: z.string(),
  image: z.string().optional(),
  /** Present for GPU pods: the type it was placed on. */
  gpu: z.looseObject({ id: z.string(), count: z.number().int() }).nullish(),
  /** USD per hour now (0 once EXITED or TERMINATED). */
  cost: z.number().nullish(),
  cloud: z.string().nullish(),
  dataCenterId: z.string().nullish(),
  createdAt: z.string().nullish(),
  startedAt: z.string().nullish(),
});
export type Pod = z.infer<typeof Pod>;

export const ListPodsResponse = z.looseObject({ pods: z.array(Pod) });

export const CLOUD_TYPES = ["SECURE", "COMMUNITY"] as const;
export type CloudType = (typeof CLOUD_TYPES)[number];

/** CreatePodRequest, as far as we use it (RunPod rejects unknown fields with 422). */
export interface CreatePod {
  name: string;
  image: string;
  gpu: { id: string; count: number };
  cloud: CloudType;
  /** Container disk in GB, wiped on restart. No persistent volume: a stopped pod would bill for it. */
  disk: number;
  env: Record<string, string>;
  /** None: machines claim work over HTTPS and need no inbound port. */
  ports: string[];
}

export interface RunPodClientOptions {
  /** https://api.runpod.io, or RUNPOD_API_URL (tests, proxies); paths carry /v2. */
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  attempts?: number;
  /** Values that must never reach an error message (machine credentials are cut out by their shape). */
  secrets?: readonly string[];
}

/**
 * RunPod's rate limit is per user over minute, hour and day windows; its
 * documented example policy is 60 a minute. One bucket for every call.
 */
const RATES: { default: Rate } = { default: { perSec: 1, burst: 5 } };
const BUCKET = "pods";

export class RunPodClient {
  private readonly api: ProviderApi;

  constructor(options: RunPodClientOptions) {
    this.api = new ProviderApi({ ...options, api: "runpod", token: options.apiKey, rates: RATES });
  }

  async list(): Promise<Pod[]> {
    return ListPodsResponse.parse(await this.api.call(BUCKET, "GET", "/v2/pods")).pods;
  }

  async get(id: string): Promise<Pod> {
    return Pod.parse(await this.api.call(BUCKET, "GET", `/v2/pods/${enc(id)}`));
  }

  /** 201 with the pod, PROVISIONING. One attempt: a 5xx may still have made a pod, so the caller decides (see RunPodProvider). */
  async create(request: CreatePod): Promise<Pod> {
    return Pod.parse(await this.api.call(BUCKET, "POST", "/v2/pods", request, 1));
  }

  /** Releases the pod's GPU and keeps its disk (EXITED). */
  async stop(id: string): Promise<void> {
    await this.api.call(BUCKET, "POST", `/v2/pods/${enc(id)}/action`, { action: "stop" });
  }

  /** Deletes the pod for good (204): nothing of it bills afterwards. */
  async terminate(id: string): Promise<void> {
    await this.api.call(BUCKET, "DELETE", `/v2/pods/${enc(id)}`);
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
