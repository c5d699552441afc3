import { env, runDurableObjectAlarm } from "cloudflare:test";
import { sleep } from "../../shared/sleep.ts";
import { DEFAULT_SHARD, queueName } from "../../edge/queue/work.ts";

/**
 * For workerd tests of the fleet (typechecked with edge/tsconfig.json): the queue object, a wait that keeps its
 * alarm turning, and the controls of the fake providers (fake-providers.ts).
 */

export const queue = () => env.QUEUE.get(env.QUEUE.idFromName(queueName(DEFAULT_SHARD)));

export { sleep };

/** The tasks the queue hands machine `machineId` (as one run by hand, with the shared token); throws on a refusal. */
export async function claimFor(machineId: string, capacity = 1) {
  const answer = await queue().claim(machineId, capacity, 60);
  if (!answer.ok) throw new Error(`claim as ${machineId} refused: ${answer.error.code}: ${answer.error.message}`);
  return answer.value.tasks;
}

/** Reads until `ok`, running the queue's alarm between reads; fails naming what it waited for and what it last saw. */
export async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(-1500)}`);
    await runDurableObjectAlarm(queue());
    await sleep(25);
  }
}

export interface FakePod {
  id: string;
  name: string;
  status: string;
  gpu: { id: string };
  env: Record<string, string>;
  image: string;
}
export interface FakePods {
  pods: FakePod[];
  calls: Array<{ at: number; method: string; path: string }>;
  created: number;
  terminated: number;
}

/** One RunPod account of the fake, by API key. */
export function runpodAccount(key: string) {
  const url = (path: string) => `https://runpod.test/_control/${path}${path.includes("?") ? "&" : "?"}key=${key}`;
  return {
    state: async (): Promise<FakePods> => (await fetch(url("state"))).json(),
    configure: (body: unknown) => fetch(url("configure"), { method: "POST", body: JSON.stringify(body) }),
    setStatus: (id: string, status: string) => fetch(url(`set?id=${id}&status=${status}`)),
  };
}

export interface FakeFlyMachine {
  id: string;
  name: string;
  state: string;
  config: { env: Record<string, string>; guest: unknown; restart: unknown; metadata: Record<string, string> };
  region?: string;
}

/** One Fly app of the fake. */
export function flyApp(app: string) {
  const get = async <T>(path: string): Promise<T> =>
    (await fetch(`https://fly.test/_control/${path}${path.includes("?") ? "&" : "?"}app=${app}`)).json() as Promise<T>;
  return {
    machines: () => get<FakeFlyMachine[]>("machines"),
    calls: () => get<string[]>("calls"),
    set: (id: string, state: string) => get<FakeFlyMachine>(`set?id=${id}&state=${state}`),
  };
}
