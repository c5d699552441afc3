import { describe, expect, it } from "vitest";
import { RunPodClient } from "./runpod-client.ts";
import { POD_NAME_PREFIX, RunPodProvider, type RunPodSpec } from "./runpod-provider.ts";

// Runs in the "edge-runpod" project, against runpod.test (test/support/fake-providers.ts):
// each test has its own API key, and so its own account in the fake.
const SPEC: RunPodSpec = {
  image: "ghcr.io/longscribe/machine:cuda",
  gpuTypes: ["NVIDIA L4", "NVIDIA RTX A5000", "NVIDIA A100 80GB PCIe"],
  cloudType: "SECURE",
  containerDiskGb: 20,
  env: { EDGE_URL: "https://api.test", IDLE_EXIT_SEC: "120" },
};
/** Each pod's own credential, as the fleet would mint it for the name the provider chose. */
const credentialFor = async (name: string) => ({ MACHINE_CREDENTIAL: `mc1.${btoa(name).replace(/=+$/, "")}.c2lnbmF0dXJl` });

let accounts = 0;
function account() {
  const key = `runpod-unit-${++accounts}-${Date.now()}`;
  const control = (path: string, body?: unknown) =>
    fetch(`https://runpod.test/_control/${path}?key=${key}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
  const client = new RunPodClient({ baseUrl: "https://runpod.test", apiKey: key, sleep: async () => {} });
  const provider = new RunPodProvider(client, SPEC, { sleep: async () => {} });
  const state = async () =>
    (await control("state")).json() as Promise<{
      pods: Array<{
        id: string;
        name: string;
        status: string;
        gpu: { id: string };
        image: string;
        cloud: string;
        disk: number;
        env: Record<string, string>;
        ports: string[];
      }>;
      calls: Array<{ method: string; path: string }>;
      created: number;
      terminated: number;
    }>;
  return {
    key,
    client,
    provider,
    state,
    configure: (body: unknown) => control("configure", body),
    set: (id: string, status: string) => fetch(`https://runpod.test/_control/set?key=${key}&id=${id}&status=${status}`),
  };
}

describe("RunPod provider against RunPod's v2 API shapes", () => {
  it("creates pods of the first GPU type with room, then the next, with everything the pod needs in its env", async () => {
    const a = account();
    await a.configure({ capacity: { "NVIDIA L4": 1 } });
    const result = await a.provider.ensure(3, credentialFor);
    expect(result.failure).toBeNull();
    expect(result.active).toBe(3);
    expect(result.created.map((m) => m.machine_type)).toEqual(["NVIDIA L4", "NVIDIA RTX A5000", "NVIDIA RTX A5000"]);
    const { pods, calls } = await a.state();
    expect(pods).toHaveLength(3);
    for (const pod of pods) {
      expect(pod.name.startsWith(POD_NAME_PREFIX)).toBe(true);
      expect({ image: pod.image, cloud: pod.cloud, disk: pod.disk, ports: pod.ports, env: pod.env }).toEqual({
        image: SPEC.image,
        cloud: "SECURE",
        disk: 20,
        ports: [],
        env: { ...SPEC.env, ...(await credentialFor(pod.name)) },
      });
    }
    // Never the shared token: a pod that is taken over can act only as itself.
    expect(new Set(pods.map((p) => p.env.MACHINE_CREDENTIAL)).size).toBe(3);
    expect(result.created.map((m) => m.name).sort()).toEqual(pods.map((p) => p.name).sort());
    // Four creates (one refused for capacity), each after a list of what runs.
    expect(calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual(["/v2/pods", "/v2/pods", "/v2/pods", "/v2/pods"]);
    // Enough pods: nothing more is created.
    expect(await a.provider.ensure(3, credentialFor)).toMatchObject({ active: 3, created: [], failure: null });
    expect((await a.state()).created).toBe(3);
  });

  it("says 'capacity' when no GPU type has room, naming them", async () => {
    const a = account();
    await a.configure({ capacity: { "NVIDIA L4": 0, "NVIDIA RTX A5000": 0, "NVIDIA A100 80GB PCIe": 0 } });
    const result = await a.provider.ensure(2, credentialFor);
    expect(result).toMatchObject({ active: 0, created: [], failure: { kind: "capacity" } });
    expect(result.failure!.message).toContain("NVIDIA L4, NVIDIA RTX A5000, NVIDIA A100 80GB PCIe");
    expect(result.failure!.message).toContain("no longer any instances available");
    // Each type was asked once in the call, not once per pod wanted.
    expect((await a.state()).calls.filter((c) => c.method === "POST")).toHaveLength(3);
  });

  it.each([
    // A key RunPod refuses fails at the list already; no create is tried.
    ["unauthorized", "401", 0],
    ["no_balance", "402", 1],
  ] as const)("an account that is %s is an auth failure (%s), after %i create", async (auth, status, creates) => {
    const a = account();
    await a.configure({ auth });
    const result = await a.provider.ensure(1, credentialFor);
    expect(result.failure?.kind).toBe("auth");
    expect(result.failure!.message).toContain(status);
    expect((await a.state()).calls.filter((c) => c.method === "POST")).toHaveLength(creates);
  });

  it("a create that failed with a 500 after making the pod is found by its name, not made twice", async () => {
    const a = account();
    await a.configure({ failCreates: { n: 1, madeAnyway: true } });
    const result = await a.provider.ensure(1, credentialFor);
    expect(result.failure).toBeNull();
    const { pods, created } = await a.state();
    expect(created).toBe(1);
    expect(result.created.map((m) => m.id)).toEqual([pods[0]!.id]);
  });

  it("a create that failed with a 500 and made nothing is tried again", async () => {
    const a = account();
    await a.configure({ failCreates: { n: 2, madeAnyway: false } });
    const result = await a.provider.ensure(1, credentialFor);
    expect(result.failure).toBeNull();
    expect((await a.state()).created).toBe(1);
    expect((await a.state()).calls.filter((c) => c.method === "POST")).toHaveLength(3);
  });

  it("maps pod status to fleet states, ignores other pods on the account, and terminates idempotently", async () => {
    const a = account();
    await a.client.create({ name: "someone-elses-notebook", image: "x", gpu: { id: "NVIDIA L4", count: 1 }, cloud: "SECURE", disk: 5, env: {}, ports: [] });
    const { created } = await a.provider.ensure(2, credentialFor);
    // A just-created pod is PROVISIONING (created); the fake brings it up by the next call.
    expect((await a.provider.list()).map((m) => m.state)).toEqual(["started", "started"]);
    await a.set(created[0]!.id, "EXITED");
    await a.set(created[1]!.id, "ERROR");
    expect((await a.provider.list()).map((m) => [m.id, m.state, m.machine_type])).toEqual([
      [created[0]!.id, "stopped", "NVIDIA L4"],
      [created[1]!.id, "failed", "NVIDIA L4"],
    ]);
    await a.provider.retire(created[0]!.id);
    await a.provider.retire(created[0]!.id); // already gone: no error
    await a.provider.retire(created[1]!.id);
    expect((await a.state()).pods.map((p) => p.name)).toEqual(["someone-elses-notebook"]);
    expect(await a.provider.list()).toEqual([]);
  });

  it("a request RunPod refuses as invalid (422) is 'rejected', with RunPod's reasons and without the secrets it was sent", async () => {
    const a = account();
    // The fake refuses unknown fields as RunPod does; smuggle one in through a subclass of the client.
    const client = new RunPodClient({ baseUrl: "https://runpod.test", apiKey: a.key, sleep: async () => {} });
    const create = client.create.bind(client);
    client.create = (req) => create({ ...req, interruptible: true } as typeof req);
    const result = await new RunPodProvider(client, SPEC, { sleep: async () => {} }).ensure(1, credentialFor);
    expect(result.failure?.kind).toBe("rejected");
    expect(result.failure!.message).toContain("additional properties 'interruptible' not allowed");
    expect(result.failure!.message).not.toContain("mc1.");
  });
});
