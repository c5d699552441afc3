import { assertNever } from "../../shared/assert-never.ts";
import type { FleetConfig, ProviderConfig } from "../config.ts";
import { FlyClient } from "./fly-client.ts";
import { FlyProvider } from "./fly-provider.ts";
import type { MachineProvider } from "./machine-provider.ts";
import { RunPodClient } from "./runpod-client.ts";
import { RunPodProvider } from "./runpod-provider.ts";

/** The providers MACHINE_PROVIDER lists, in its order. */
export function providersFor(fleet: FleetConfig): MachineProvider[] {
  return fleet.providers.map(providerFor);
}

function providerFor(config: ProviderConfig): MachineProvider {
  switch (config.kind) {
    case "fly":
    case "local":
      return new FlyProvider(new FlyClient({ baseUrl: config.apiUrl, app: config.app, token: config.token }), config.spec, config.kind);
    case "runpod":
      return new RunPodProvider(new RunPodClient({ baseUrl: config.apiUrl, apiKey: config.apiKey }), config.spec);
    default:
      return assertNever(config);
  }
}
