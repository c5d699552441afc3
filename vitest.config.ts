import { availableParallelism } from "node:os";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { configDefaults, defineConfig } from "vitest/config";
import { fakeInternet } from "./test/support/fake-internet.ts";
import { TEST_API_KEYS, TEST_MACHINE_TOKEN, TEST_WEBHOOK_SIGNING_KEY } from "./test/support/test-secrets.ts";

function edgeProject(
  name: string,
  include: string[],
  exclude: string[],
  vars: Record<string, string>,
  extra: { ratelimits?: Record<string, { simple: { limit: number; period: number } }> } = {},
) {
  return {
    plugins: [
      cloudflareTest({
        main: "./edge/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: { API_KEYS: TEST_API_KEYS.join(","), WEBHOOK_SIGNING_KEY: TEST_WEBHOOK_SIGNING_KEY, MACHINE_TOKEN: TEST_MACHINE_TOKEN, ...vars },
          outboundService: (request: Request) => fakeInternet(request),
          ...extra,
        },
      }),
    ],
    test: { name, include, exclude, ...UNDER_LOAD },
  };
}

/**
 * Files run two at a time (CI has two cores), so a test's own limit must allow for a
 * neighbour on the other core: workerd tests that take 2 s alone have taken 5 s there.
 */
const UNDER_LOAD = { testTimeout: 30_000, hookTimeout: 60_000 };

/**
 * Whole systems on real processes whose checks are timed against short leases and
 * heartbeats: the reliability suites (6 s leases, faults timed against them) and the
 * end-to-end test (a machine killed mid-range must lose its range to the other one; a
 * cancel must reach the machine within one heartbeat). Two at a time, the faults suite's
 * fault-free job failed; in the end-to-end test the other machine never took over the
 * killed one's range (it had likely finished it, its log lagging) and a cancel took 8 s
 * to reach the machine instead of ≤ 6.3 s. So they run one at a time, after everything
 * else. The other whole-stack files (the web page, the benchmarks, the CLI and SDK
 * stacks) pass two at a time.
 */
const ALONE = ["test/end-to-end.test.ts", "test/reliability/**/*.test.ts"];

const RUNPOD = {
  ALLOW_LOOPBACK_URLS: "false",
  RUNPOD_API_URL: "https://runpod.test",
  RUNPOD_GPU_TYPES: "NVIDIA L4,NVIDIA RTX A5000,NVIDIA A100 80GB PCIe",
  RUNPOD_IMAGE: "ghcr.io/longscribe/machine:cuda",
  PUBLIC_BASE_URL: "https://api.test",
  MAX_MACHINES: "3",
  MACHINE_START_GRACE_SEC: "60",
  IDLE_EXIT_SEC: "1",
  MACHINE_IDLE_GRACE_SEC: "0",
  MACHINE_ENV: '{"WHISPER_BATCH":"16"}',
};

export default defineConfig({
  test: {
    projects: [
      // Edge code runs inside workerd, as it does in production.
      edgeProject(
        "edge",
        ["edge/**/*.test.ts"],
        [
          "edge/**/*.loopback.test.ts",
          "edge/**/*.fleet.test.ts",
          "edge/**/*.runpod.test.ts",
          "edge/**/*.fallback.test.ts",
          "edge/**/*.queue.test.ts",
          "edge/**/*.shards.test.ts",
          "edge/**/*.bill.test.ts",
        ],
        // Small multipart parts and limits, so upload tests stay small.
        { ALLOW_LOOPBACK_URLS: "false", UPLOAD_PART_MB: "5", MAX_REQUEST_BODY_MB: "12", MAX_UPLOAD_GB_PER_KEY: "0.06" },
      ),
      // The queue's own upkeep, with a fleet so its alarm turns, on a fake Fly app of its own.
      edgeProject(
        "edge-queue",
        ["edge/**/*.queue.test.ts"],
        [],
        {
          ALLOW_LOOPBACK_URLS: "false",
          MACHINE_PROVIDER: "fly",
          FLY_API_URL: "https://fly.test",
          FLY_APP: "longscribe-queue",
          FLY_API_TOKEN: "fly-test-token",
          PUBLIC_BASE_URL: "https://api.test",
          MAX_MACHINES: "1",
          MAX_ACTIVE_JOBS_PER_KEY: "6",
          MAX_AUDIO_HOURS_IN_FLIGHT_PER_KEY: "1",
        },
        { ratelimits: { API_RATE_LIMIT: { simple: { limit: 40, period: 10 } } } },
      ),
      // The queue split over four shards (QUEUE_SHARDS), with a fleet on a fake Fly app of its own so shards report to it.
      edgeProject("edge-shards", ["edge/**/*.shards.test.ts"], [], {
        ALLOW_LOOPBACK_URLS: "false",
        QUEUE_SHARDS: "4",
        MACHINE_PROVIDER: "fly",
        FLY_API_URL: "https://fly.test",
        FLY_APP: "longscribe-shards",
        FLY_API_TOKEN: "fly-test-token",
        PUBLIC_BASE_URL: "https://api.test",
        MAX_MACHINES: "8",
        MAX_ACTIVE_JOBS_PER_KEY: "0",
      }),
      // A job's life counted in billed units (rows, object requests), in storage of its own.
      edgeProject("edge-bill", ["edge/**/*.bill.test.ts"], [], { ALLOW_LOOPBACK_URLS: "false", MAX_ACTIVE_JOBS_PER_KEY: "0" }),
      // The same Worker starting machines through a (fake) Fly Machines API.
      edgeProject("edge-fleet", ["edge/**/*.fleet.test.ts"], [], {
        ALLOW_LOOPBACK_URLS: "false",
        MACHINE_PROVIDER: "fly",
        FLY_API_URL: "https://fly.test",
        FLY_APP: "longscribe-machines",
        FLY_API_TOKEN: "fly-test-token",
        PUBLIC_BASE_URL: "https://api.test",
        MACHINE_REGION: "ord",
        MAX_MACHINES: "3",
        MACHINE_START_GRACE_SEC: "60",
      }),
      // RunPod GPU pods alone (a fake RunPod v2 API); idle machines are retired a second after their last work.
      edgeProject("edge-runpod", ["edge/**/*.runpod.test.ts"], [], {
        ...RUNPOD,
        RUNPOD_API_KEY: "runpod-key-solo",
        MACHINE_PROVIDER: "runpod",
      }),
      // RunPod first, Fly's CPU guests when RunPod cannot start pods.
      edgeProject("edge-fallback", ["edge/**/*.fallback.test.ts"], [], {
        ...RUNPOD,
        RUNPOD_API_KEY: "runpod-key-fallback",
        MACHINE_PROVIDER: "runpod,fly",
        FLY_API_URL: "https://fly.test",
        FLY_APP: "longscribe-fallback",
        FLY_API_TOKEN: "fly-test-token",
        AUDIO_SEC_PER_MACHINE: "60",
      }),
      // The same Worker in local mode, where media may live on 127.0.0.1.
      edgeProject("edge-local", ["edge/**/*.loopback.test.ts"], [], { ALLOW_LOOPBACK_URLS: "true" }),
      {
        test: {
          name: "node",
          include: ["shared/**/*.test.ts", "gpu-machine/**/*.test.ts", "cli/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...ALONE],
          environment: "node",
          ...UNDER_LOAD,
        },
      },
      // One worker and the default group order: vitest runs these as a group of their own, last.
      { test: { name: "node-alone", include: ALONE, environment: "node", fileParallelism: false } },
    ],
    // Two files at a time on CI's two cores (vitest's default would be one).
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
