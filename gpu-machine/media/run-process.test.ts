import { describe, expect, it } from "vitest";
import { recordRow } from "../../test/support/reliability-report.ts";
import { runProcess } from "./run-process.ts";

describe("media tools run without the machine's secrets", () => {
  it("a tool sees PATH, not MACHINE_TOKEN or provider keys", async () => {
    const saved = { MACHINE_TOKEN: process.env.MACHINE_TOKEN, RUNPOD_API_KEY: process.env.RUNPOD_API_KEY };
    process.env.MACHINE_TOKEN = "machine-secret-for-this-test";
    process.env.RUNPOD_API_KEY = "provider-secret-for-this-test";
    try {
      const { stdout } = await runProcess("/usr/bin/env", []);
      const names = stdout
        .split("\n")
        .map((l) => l.split("=")[0])
        .filter(Boolean);
      recordRow({
        suite: "machines",
        case: "the environment ffmpeg and ffprobe run with",
        expected: "no MACHINE_TOKEN, no provider key",
        observed: names.join(", "),
        pass: !stdout.includes("secret-for-this-test"),
      });
      expect(stdout).not.toContain("secret-for-this-test");
      expect(names).toContain("PATH");
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
