import { join } from "node:path";
import { readDevVars } from "../scripts/dev-vars.ts";
import { UsageError } from "./cli-errors.ts";

export const DEFAULT_API = "http://127.0.0.1:8787";

export interface Connection {
  api: string;
  key: string;
  /** Where the key came from, to name in a 401 hint; the key itself is never printed. */
  keySource: string;
}

/**
 * --api, then LONGSCRIBE_API, then the local stack. --key, then
 * LONGSCRIBE_API_KEY, then the first key `npm start` wrote to ./.dev.vars, so
 * that the CLI works against the local stack with no setup.
 */
export function resolveConnection(
  flags: { api?: string | undefined; key?: string | undefined },
  env: Record<string, string | undefined>,
  cwd: string,
): Connection {
  const api = flags.api ?? (env.LONGSCRIBE_API || DEFAULT_API);
  let parsed: URL | null = null;
  try {
    parsed = new URL(api);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw new UsageError(`--api must be an http(s) URL such as ${DEFAULT_API}, not "${api}"`);
  }
  if (flags.key !== undefined) return { api, key: flags.key, keySource: "--key" };
  if (env.LONGSCRIBE_API_KEY) return { api, key: env.LONGSCRIBE_API_KEY, keySource: "LONGSCRIBE_API_KEY" };
  const devVars = join(cwd, ".dev.vars");
  const first = (readDevVars(devVars).get("API_KEYS") ?? "")
    .split(",")
    .map((k) => k.trim())
    .find(Boolean);
  if (first) return { api, key: first, keySource: devVars };
  throw new UsageError(
    "no API key: pass --key KEY or set LONGSCRIBE_API_KEY; against the local stack, run this from the repository after `npm start` has written .dev.vars",
  );
}
