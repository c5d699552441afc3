import type { EnsureResult, FleetMachine, StartFailure } from "./machine-provider.ts";
import { ProviderApiError } from "./provider-api.ts";

/** How a provider's refusal to start a machine reads to the reconcile loop. */
export function startFailure(error: unknown): StartFailure {
  if (!(error instanceof ProviderApiError)) return { kind: "outage", message: (error as Error)?.message ?? String(error) };
  if (error.status === 401 || error.status === 403 || error.status === 402) return { kind: "auth", message: error.message };
  if (error.retryable) return { kind: "outage", message: error.message };
  return { kind: "rejected", message: error.message };
}

/** A provider's machines for `ensure`, or the answer it gives when it cannot even see them (a refused key, an outage). */
export async function listForEnsure(list: () => Promise<FleetMachine[]>): Promise<FleetMachine[] | EnsureResult> {
  try {
    return await list();
  } catch (error) {
    return { active: 0, started: [], created: [], failure: startFailure(error) };
  }
}
