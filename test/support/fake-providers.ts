/**
 * Machine providers' REST APIs for edge tests, in memory, served through
 * fake-internet.ts. Each keeps one account per credential (Fly: per app;
 * RunPod: per API key), so test projects running side by side do not see each
 * other's machines. `/_control/…` lets a test read and steer an account.
 */

// ---- Fly Machines (https://fly.io/docs/machines/api/machines-resource/) ------------

interface FlyMachine {
  id: string;
  name: string;
  state: string;
  config: Record<string, unknown>;
  region?: string;
}
interface FlyAccount {
  machines: Map<string, FlyMachine>;
  calls: string[];
  token: string;
  auth: "ok" | "unauthorized";
}
const flyApps = new Map<string, FlyAccount>();
let flyIds = 0;

function flyApp(app: string): FlyAccount {
  let account = flyApps.get(app);
  if (!account) flyApps.set(app, (account = { machines: new Map(), calls: [], token: "fly-test-token", auth: "ok" }));
  return account;
}

/**
 * `/_control/calls|machines[?app=]` (what the edge asked, what runs),
 * `/_control/set?app=&id=&state=` (a machine exiting on its own),
 * `/_control/auth?app=&to=ok|unauthorized` (a revoked token).
 */
export async function fakeFly(request: Request, url: URL): Promise<Response> {
  const path = url.pathname;
  if (path.startsWith("/_control/")) {
    const account = flyApp(url.searchParams.get("app") ?? "longscribe-machines");
    if (path === "/_control/calls") return Response.json(account.calls);
    if (path === "/_control/machines") return Response.json([...account.machines.values()]);
    if (path === "/_control/auth") {
      account.auth = url.searchParams.get("to") === "unauthorized" ? "unauthorized" : "ok";
      return Response.json({ auth: account.auth });
    }
    if (path === "/_control/set") {
      const m = account.machines.get(url.searchParams.get("id") ?? "");
      if (!m) return new Response("no such machine", { status: 404 });
      m.state = url.searchParams.get("state") ?? m.state;
      return Response.json(m);
    }
    return new Response("no such control", { status: 404 });
  }
  const m = /^\/v1\/apps\/([^/]+)\/machines(?:\/([^/]+))?(?:\/(start|stop))?$/.exec(path);
  if (!m) return Response.json({ error: "not found" }, { status: 404 });
  const [, app, id, action] = m;
  const account = flyApp(app!);
  if (request.headers.get("authorization") !== `Bearer ${account.token}` || account.auth === "unauthorized")
    return Response.json({ error: "unauthorized" }, { status: 401 });
  account.calls.push(`${request.method} ${path}`);
  if (!id && request.method === "GET") return Response.json([...account.machines.values()]);
  if (!id && request.method === "POST") {
    const body = (await request.json()) as { name?: string; config: Record<string, unknown>; region?: string };
    const id = `fake${++flyIds}`;
    const machine = { id, name: body.name ?? `generated-${id}`, state: "started", config: body.config, ...(body.region ? { region: body.region } : {}) };
    account.machines.set(machine.id, machine);
    return Response.json(machine);
  }
  const machine = account.machines.get(id ?? "");
  if (!machine) return Response.json({ error: "machine not found" }, { status: 404 });
  if (action === "start") {
    const previous = machine.state;
    machine.state = "started";
    return Response.json({ previous_state: previous });
  }
  if (action === "stop") {
    machine.state = "stopped";
    return Response.json({ ok: true });
  }
  return Response.json(machine);
}

// ---- RunPod Pods, REST v2 (https://api.runpod.io/v2; RunPod's OpenAPI 2.0.0) ---------

interface FakePod {
  id: string;
  name: string;
  status: string;
  image: string;
  gpu: { id: string; count: number };
  cloud: string;
  disk: number;
  env: Record<string, string>;
  ports: string[];
  cost: number;
  createdAt: string;
  startedAt: string | null;
  dataCenterId: string | null;
}
interface RunPodAccount {
  pods: Map<string, FakePod>;
  /** Pods each GPU type can still place; a type not named has room. */
  capacity: Record<string, number>;
  auth: "ok" | "unauthorized" | "no_balance";
  /** Creates that answer 500 (after making the pod, when `madeAnyway`), as RunPod's API has been seen to. */
  failCreates: { n: number; madeAnyway: boolean };
  calls: Array<{ at: number; method: string; path: string }>;
  created: number;
  terminated: number;
}
const runpodAccounts = new Map<string, RunPodAccount>();
let podIds = 0;

function runpodAccount(key: string): RunPodAccount {
  let account = runpodAccounts.get(key);
  if (!account)
    runpodAccounts.set(
      key,
      (account = { pods: new Map(), capacity: {}, auth: "ok", failCreates: { n: 0, madeAnyway: false }, calls: [], created: 0, terminated: 0 }),
    );
  return account;
}

/** RFC 9457, as RunPod v2 answers every error. */
function problem(status: number, title: string, detail: string, errors?: string[]): Response {
  return new Response(JSON.stringify({ title, status, detail, ...(errors ? { errors } : {}) }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}

const CREATE_FIELDS = new Set([
  "name",
  "image",
  "args",
  "disk",
  "env",
  "ports",
  "registry",
  "gpu",
  "cpu",
  "cloud",
  "dataCenterIds",
  "mounts",
  "globalNetworking",
  "startSsh",
  "startJupyter",
  "templateId",
]);
const NO_CAPACITY = "There are no longer any instances available with the requested specifications. Please refresh and try again.";
const GPU_PRICES: Record<string, number> = { "NVIDIA L4": 0.43, "NVIDIA RTX A5000": 0.27, "NVIDIA A100 80GB PCIe": 1.79 };

/**
 * `/_control/state?key=` (pods, calls with times, created and terminated counts),
 * `/_control/configure?key=` POST `{ capacity?, auth?, failCreates? }`,
 * `/_control/set?key=&id=&status=` (a pod's container exiting, say).
 */
export async function fakeRunPod(request: Request, url: URL): Promise<Response> {
  const path = url.pathname;
  if (path.startsWith("/_control/")) {
    const account = runpodAccount(url.searchParams.get("key") ?? "");
    if (path === "/_control/state")
      return Response.json({ pods: [...account.pods.values()], calls: account.calls, created: account.created, terminated: account.terminated });
    if (path === "/_control/configure" && request.method === "POST") {
      const body = (await request.json()) as Partial<Pick<RunPodAccount, "capacity" | "auth" | "failCreates">>;
      if (body.capacity) account.capacity = body.capacity;
      if (body.auth) account.auth = body.auth;
      if (body.failCreates) account.failCreates = body.failCreates;
      return Response.json({ ok: true });
    }
    if (path === "/_control/set") {
      const pod = account.pods.get(url.searchParams.get("id") ?? "");
      if (!pod) return new Response("no such pod", { status: 404 });
      pod.status = url.searchParams.get("status") ?? pod.status;
      return Response.json(pod);
    }
    return new Response("no such control", { status: 404 });
  }
  const key = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
  if (!key) return problem(401, "Unauthorized", "missing bearer token");
  const account = runpodAccount(key);
  account.calls.push({ at: Date.now(), method: request.method, path });
  if (account.auth === "unauthorized") return problem(401, "Unauthorized", "invalid bearer token");
  // Pods placed earlier have come up by the time anyone looks again.
  for (const p of account.pods.values()) if (p.status === "PROVISIONING") Object.assign(p, { status: "RUNNING", startedAt: new Date().toISOString() });

  if (path === "/v2/pods" && request.method === "GET") return Response.json({ pods: [...account.pods.values()] });
  if (path === "/v2/pods" && request.method === "POST") {
    if (account.auth === "no_balance") return problem(402, "Payment Required", "insufficient balance");
    const body = (await request.json()) as Record<string, unknown>;
    const extra = Object.keys(body).filter((k) => !CREATE_FIELDS.has(k));
    if (extra.length > 0)
      return problem(
        422,
        "Unprocessable Entity",
        "Request validation failed.",
        extra.map((k) => `$: additional properties '${k}' not allowed`),
      );
    const gpu = body.gpu as { id?: string; count?: number } | undefined;
    if (typeof body.name !== "string" || typeof body.image !== "string" || !gpu?.id)
      return problem(422, "Unprocessable Entity", "Request validation failed.", ["$: name, image and gpu.id are required"]);
    if ((account.capacity[gpu.id] ?? Infinity) <= 0) return problem(400, "Bad Request", NO_CAPACITY);
    const pod: FakePod = {
      id: `pod${++podIds}x${Math.random().toString(36).slice(2, 8)}`,
      name: body.name,
      status: "PROVISIONING",
      image: body.image,
      gpu: { id: gpu.id, count: gpu.count ?? 1 },
      cloud: String(body.cloud ?? "SECURE"),
      disk: Number(body.disk ?? 50),
      env: (body.env ?? {}) as Record<string, string>,
      ports: (body.ports ?? []) as string[],
      cost: GPU_PRICES[gpu.id] ?? 1,
      createdAt: new Date().toISOString(),
      startedAt: null,
      dataCenterId: "US-TX-3",
    };
    if (account.failCreates.n > 0) {
      account.failCreates.n -= 1;
      if (account.failCreates.madeAnyway) place(account, pod);
      return problem(500, "Internal Server Error", "upstream failure");
    }
    place(account, pod);
    return Response.json(pod, { status: 201 });
  }
  const m = /^\/v2\/pods\/([^/]+)(\/action)?$/.exec(path);
  const pod = m ? account.pods.get(m[1]!) : undefined;
  if (!m || !pod) return problem(404, "Not Found", "The requested Pod does not exist.");
  if (request.method === "DELETE" && !m[2]) return terminate(account, pod);
  if (request.method === "GET" && !m[2]) return Response.json(pod);
  if (request.method === "POST" && m[2]) {
    const { action } = (await request.json()) as { action?: string };
    if (action === "terminate") return terminate(account, pod);
    if (action === "stop") Object.assign(pod, { status: "EXITED", cost: 0 });
    else if (action === "start") pod.status = "RUNNING";
    else return problem(422, "Unprocessable Entity", "Request validation failed.", ["$.action: value must be one of 'start', 'stop', 'restart', 'terminate'"]);
    return Response.json(pod);
  }
  return problem(405, "Method Not Allowed", "method not allowed");
}

function place(account: RunPodAccount, pod: FakePod): void {
  account.pods.set(pod.id, pod);
  account.created += 1;
  if (account.capacity[pod.gpu.id] !== undefined) account.capacity[pod.gpu.id]! -= 1;
}

function terminate(account: RunPodAccount, pod: FakePod): Response {
  account.pods.delete(pod.id);
  account.terminated += 1;
  if (account.capacity[pod.gpu.id] !== undefined) account.capacity[pod.gpu.id]! += 1;
  return new Response(null, { status: 204 });
}
