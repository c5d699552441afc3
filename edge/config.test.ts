import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { readConfig } from "./config.ts";
import { ApiError } from "./errors.ts";

// A fresh object each time: readConfig caches per env object.
const withVars = (vars: Record<string, string | undefined>) => ({ ...env, ...vars }) as Env;
const RUNPOD = {
  MACHINE_PROVIDER: "runpod",
  RUNPOD_API_KEY: "rp-key",
  PUBLIC_BASE_URL: "https://api.example.com",
  MACHINE_IMAGE: "registry.fly.io/x:latest",
  RUNPOD_IMAGE: "ghcr.io/x/machine:cuda",
  RUNPOD_GPU_TYPES: " NVIDIA L4 , NVIDIA RTX A5000 ",
  RUNPOD_CLOUD_TYPE: "community",
  MACHINE_ENV: '{"WHISPER_BATCH":"16"}',
};

function refusal(vars: Record<string, string | undefined>): string {
  try {
    readConfig(withVars(vars));
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
    return (error as Error).message;
  }
  throw new Error("the configuration was accepted");
}

describe("machine providers in the configuration", () => {
  it("reads an ordered provider list, with the pods' env holding all they need", () => {
    const fleet = readConfig(withVars({ ...RUNPOD, MACHINE_PROVIDER: "runpod,fly", FLY_API_TOKEN: "fly-token", FLY_APP: "machines" })).fleet!;
    expect(fleet.providers.map((p) => p.kind)).toEqual(["runpod", "fly"]);
    const runpod = fleet.providers[0]!;
    if (runpod.kind !== "runpod") throw new Error("not runpod");
    expect(runpod.spec).toMatchObject({
      image: "ghcr.io/x/machine:cuda",
      gpuTypes: ["NVIDIA L4", "NVIDIA RTX A5000"],
      cloudType: "COMMUNITY",
      containerDiskGb: 20,
    });
    // No shared secret in a pod's env: each pod gets its own credential when it is created.
    expect(runpod.spec.env).toEqual({ WHISPER_BATCH: "16", EDGE_URL: "https://api.example.com", IDLE_EXIT_SEC: "120" });
    // Fly machines take the token from the app's secrets, never from the create call.
    const fly = fleet.providers[1]!;
    if (fly.kind !== "fly") throw new Error("not fly");
    expect(fly.spec.env).toEqual({ WHISPER_BATCH: "16", EDGE_URL: "https://api.example.com", IDLE_EXIT_SEC: "120" });
  });

  it.each([
    [{ MACHINE_PROVIDER: "runpod,gcp" }, 'MACHINE_PROVIDER must be "none" or an ordered list of runpod, fly, local'],
    [{ MACHINE_PROVIDER: "runpod,runpod" }, "without repeats"],
    [{ RUNPOD_API_KEY: "" }, "RUNPOD_API_KEY is not set"],
    [{ RUNPOD_GPU_TYPES: " , " }, "RUNPOD_GPU_TYPES must list at least one type"],
    [{ RUNPOD_CLOUD_TYPE: "SPOT" }, "RUNPOD_CLOUD_TYPE must be one of SECURE, COMMUNITY"],
    [{ MACHINE_ENV: '{"IDLE_EXIT_SEC":"5"}' }, "MACHINE_ENV must not set IDLE_EXIT_SEC"],
    [{ MACHINE_ENV: '{"MACHINE_TOKEN":"a-shared-secret-for-every-machine-0123"}' }, "MACHINE_ENV must not set MACHINE_TOKEN"],
    [{ MACHINE_PRICES: '{"runpod":{"NVIDIA L4":-1}}' }, "MACHINE_PRICES"],
    [{ MACHINE_PRICES: "cheap" }, "MACHINE_PRICES must be JSON"],
    [{ PUBLIC_BASE_URL: "" }, "PUBLIC_BASE_URL must be set when MACHINE_PROVIDER is runpod"],
  ])("refuses %j, naming the setting", (vars, message) => {
    const text = refusal({ ...RUNPOD, ...vars });
    expect(text).toContain(message);
    expect(text).not.toContain("rp-key");
  });

  it("lays MACHINE_PRICES over the default table, type by type", () => {
    const { machinePrices } = readConfig(withVars({ MACHINE_PRICES: '{"runpod":{"NVIDIA L4":0.39,"*":1.5},"vast":{"RTX 4090":0.3}}' }));
    expect(machinePrices.runpod!["NVIDIA L4"]).toBe(0.39);
    expect(machinePrices.runpod!["NVIDIA RTX A5000"]).toBe(0.27);
    expect(machinePrices.runpod!["*"]).toBe(1.5);
    expect(machinePrices.fly!["performance-8x-16gb"]).toBe(0.3445);
    expect(machinePrices.vast).toEqual({ "RTX 4090": 0.3 });
  });
});
