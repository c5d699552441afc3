import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FlyClient } from "../edge/providers/fly-client.ts";
import { ProviderApiError } from "../edge/providers/provider-api.ts";
import { FlyProvider, type MachineSpec } from "../edge/providers/fly-provider.ts";
import { LocalSupervisor } from "../gpu-machine/supervisor/local-supervisor.ts";
import { REPO_ROOT } from "./support/shared-data.ts";
import { waitUntil } from "../shared/sleep.ts";

const fixture = (name: string) => readFileSync(`${REPO_ROOT}/test/fixtures/fly/${name}`, "utf8");
/** Each machine's own credential, as the fleet would mint it for the name the provider chose. */
const credentialFor = async (name: string) => ({ MACHINE_CREDENTIAL: `credential-of-${name}` });
const SPEC: MachineSpec = {
  image: "registry.fly.io/longscribe-machines:latest",
  guest: { cpu_kind: "performance", cpus: 8, memory_mb: 16384 },
  region: "ord",
  env: { EDGE_URL: "https://api.example.com" },
};

interface Seen {
  method: string;
  path: string;
  auth: string | null;
  body: unknown;
}

/** A fetch that answers from Fly's documented response shapes, in order, and records the requests. */
function scripted(answers: Array<{ status?: number; body: string; headers?: Record<string, string> }>) {
  const seen: Seen[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    seen.push({
      method: init?.method ?? "GET",
      path: url.pathname + url.search,
      auth: new Headers(init?.headers).get("authorization"),
      body: init?.body ? JSON.parse(String(init.body)) : null,
    });
    const next = answers.shift();
    if (!next) throw new Error(`unexpected request ${init?.method} ${url.pathname}`);
    return new Response(next.body, { status: next.status ?? 200, headers: { "content-type": "application/json", ...next.headers } });
  }) as typeof fetch;
  return { seen, fetchFn };
}

function client(fetchFn: typeof fetch, sleeps: number[] = [], clock = { t: 0 }) {
  return new FlyClient({
    baseUrl: "https://api.machines.dev",
    app: "longscribe-machines",
    token: "fly-test-token",
    fetch: fetchFn,
    now: () => clock.t,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.t += ms;
    },
  });
}

describe("Fly Machines client against Fly's documented shapes", () => {
  it("lists only this deployment's machines, reuses a stopped one before creating, and sends the documented requests", async () => {
    const { seen, fetchFn } = scripted([{ body: fixture("list-machines.json") }, { body: fixture("start.json") }, { body: fixture("machine.json") }]);
    const result = await new FlyProvider(client(fetchFn), SPEC).ensure(3, credentialFor);
    const type = "performance-8x-16gb";
    expect(result).toEqual({
      active: 3,
      started: [{ id: "e2865641be3928", machine_type: type }],
      created: [{ id: "73d8d46dbee589", machine_type: type, name: expect.stringMatching(/^longscribe-[0-9a-f-]{13}$/) }],
      failure: null,
    });
    const name = result.created[0]!.name!;
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "GET /v1/apps/longscribe-machines/machines",
      "POST /v1/apps/longscribe-machines/machines/e2865641be3928/start",
      "POST /v1/apps/longscribe-machines/machines",
    ]);
    expect(seen.every((s) => s.auth === "Bearer fly-test-token")).toBe(true);
    expect(seen[2]!.body).toEqual({
      name,
      region: "ord",
      config: {
        image: SPEC.image,
        env: { ...SPEC.env, MACHINE_CREDENTIAL: `credential-of-${name}` },
        guest: SPEC.guest,
        restart: { policy: "no" },
        auto_destroy: false,
        metadata: { longscribe_role: "transcriber" },
      },
    });
  });

  it("does nothing when enough machines run (idempotent reconcile)", async () => {
    const { seen, fetchFn } = scripted([{ body: fixture("list-machines.json") }]);
    expect(await new FlyProvider(client(fetchFn), SPEC).ensure(1, credentialFor)).toEqual({ active: 1, started: [], created: [], failure: null });
    expect(seen).toHaveLength(1);
  });

  it("honours Retry-After on 429, retries 5xx, and does not retry other errors", async () => {
    const sleeps: number[] = [];
    const { seen, fetchFn } = scripted([
      { status: 429, body: fixture("rate-limited.json"), headers: { "retry-after": "2" } },
      { status: 503, body: "upstream unavailable" },
      { body: fixture("list-machines.json") },
      { status: 404, body: '{"error":"machine not found"}' },
    ]);
    const c = client(fetchFn, sleeps);
    expect(await c.list()).toHaveLength(3);
    expect(sleeps[0]).toBeGreaterThanOrEqual(2000);
    expect(sleeps).toHaveLength(2);
    const error = await c.get("nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderApiError);
    expect((error as ProviderApiError).status).toBe(404);
    expect((error as ProviderApiError).message).toContain("machine not found");
    expect(seen).toHaveLength(4);
  });

  it("paces itself to about one request per second per action after a burst of three", async () => {
    const sleeps: number[] = [];
    const { fetchFn } = scripted(Array.from({ length: 6 }, () => ({ body: fixture("machine.json") })));
    const c = client(fetchFn, sleeps);
    for (let i = 0; i < 6; i++)
      await c.create({ config: { image: "x", env: {}, guest: SPEC.guest, restart: { policy: "no" }, auto_destroy: false, metadata: {} } });
    expect(sleeps).toHaveLength(3);
    for (const ms of sleeps) expect(ms).toBeGreaterThanOrEqual(990);
  });
});

describe("Fly Machines client against the local supervisor", () => {
  let supervisor: LocalSupervisor;
  const lines: string[] = [];
  // A stand-in machine: says who it is, exits on SIGTERM, or crashes when asked to.
  const script = `process.stderr.write("up " + process.env.FLY_MACHINE_ID + " " + process.env.MACHINE_CREDENTIAL + " app-secret=" + (process.env.APP_SECRET === "app-secret") + "\\n");
    if (process.env.CRASH) process.exit(3);
    process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000);`;

  beforeAll(async () => {
    supervisor = new LocalSupervisor({
      app: "local-app",
      token: "sup-token",
      command: [process.execPath, "-e", script],
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, APP_SECRET: "app-secret" },
      stopGraceMs: 2000,
      log: (l) => lines.push(l),
    });
    await supervisor.listen();
  });
  afterAll(async () => supervisor.close());

  const local = (token = "sup-token") => new FlyClient({ baseUrl: supervisor.url, app: "local-app", token, attempts: 1 });

  it("creates, stops, reuses and destroys machines as child processes", async () => {
    const c = local();
    const provider = new FlyProvider(c, { ...SPEC, region: null }, "local");
    const first = await provider.ensure(1, credentialFor);
    expect(first.created).toHaveLength(1);
    const { id, name } = first.created[0]!;
    await c.wait(id, "started", 10);
    const up = `up ${id} credential-of-${name} app-secret=true`;
    await waitUntil(() => lines.some((l) => l.includes(up)), { timeoutMs: 2_500, intervalMs: 50 });
    expect(lines.some((l) => l.includes(up))).toBe(true); // its id, its own credential and the app's secrets reach it
    expect((await c.start(id)).previous_state).toBe("started"); // a no-op
    expect(await provider.list()).toEqual([{ id, state: "started", machine_type: "local" }]);

    await provider.retire(id);
    await c.wait(id, "stopped", 10);
    expect(supervisor.running()).toEqual([]);
    const again = await provider.ensure(1, credentialFor);
    expect(again).toEqual({ active: 1, started: [{ id, machine_type: "local" }], created: [], failure: null }); // reused, not created
    await c.wait(id, "started", 10);

    expect(await c.destroy(id).catch((e: ProviderApiError) => e.status)).toBe(412); // running: needs force
    await c.destroy(id, true);
    expect(await c.get(id).catch((e: ProviderApiError) => e.status)).toBe(404);
  });

  it("a machine that crashes is stopped and the supervisor keeps serving", async () => {
    const c = local();
    const m = await c.create({
      config: {
        image: "local",
        env: { CRASH: "1" },
        guest: SPEC.guest,
        restart: { policy: "no" },
        auto_destroy: false,
        metadata: { longscribe_role: "transcriber" },
      },
    });
    await c.wait(m.id, "stopped", 10);
    expect((await c.get(m.id)).state).toBe("stopped");
    expect(await c.list()).toEqual(expect.arrayContaining([expect.objectContaining({ id: m.id, state: "stopped" })]));
  });

  it("refuses a wrong token", async () => {
    expect(
      await local("wrong")
        .list()
        .catch((e: ProviderApiError) => e.status),
    ).toBe(401);
  });
});
