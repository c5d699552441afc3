import { describe, expect, it } from "vitest";
import type { Progress } from "../shared/api.ts";
import { changeKey, clock, estimateEtaSec, percent, plainLine, progressBar, type ProgressView } from "./progress-line.ts";

const progress = (done: number, total: number, ranges: [number, number], eta?: number): Progress => ({
  audio_sec_done: done,
  audio_sec_total: total,
  ranges_done: ranges[0],
  ranges_active: 0,
  ranges_total: ranges[1],
  ...(eta === undefined ? {} : { eta_sec: eta }),
});

const view = (p: Progress, etaSec?: number): ProgressView => ({ status: "running", progress: p, etaSec });

describe("clock", () => {
  it("writes mm:ss, and h:mm:ss from an hour on", () => {
    expect(clock(0)).toBe("00:00");
    expect(clock(65)).toBe("01:05");
    expect(clock(59.6)).toBe("01:00");
    expect(clock(3599.6)).toBe("1:00:00");
    expect(clock(36_125)).toBe("10:02:05");
    expect(clock(-3)).toBe("00:00");
  });
});

describe("percent", () => {
  it("is 0 while the length is unknown and never passes 100", () => {
    expect(percent(progress(0, 0, [0, 0]))).toBe(0);
    expect(percent(progress(30, 120, [1, 4]))).toBe(25);
    expect(percent(progress(121, 120, [4, 4]))).toBe(100);
  });
});

describe("estimateEtaSec", () => {
  it("prefers the API's own ETA", () => {
    expect(estimateEtaSec(progress(30, 120, [1, 4], 7), { atMs: 0, doneSec: 0 }, { atMs: 1000, doneSec: 30 })).toBe(7);
  });

  it("otherwise extrapolates the rate seen since the first sample", () => {
    // 20 audio seconds in 10 s of waiting: 2× real time, 90 s left → 45 s.
    expect(estimateEtaSec(progress(30, 120, [1, 4]), { atMs: 0, doneSec: 10 }, { atMs: 10_000, doneSec: 30 })).toBe(45);
  });

  it("is unknown before any rate can be measured", () => {
    expect(estimateEtaSec(progress(30, 120, [1, 4]), undefined, { atMs: 10_000, doneSec: 30 })).toBeUndefined();
    expect(estimateEtaSec(progress(30, 120, [1, 4]), { atMs: 0, doneSec: 30 }, { atMs: 10_000, doneSec: 30 })).toBeUndefined();
    expect(estimateEtaSec(progress(30, 120, [1, 4]), { atMs: 5, doneSec: 30 }, { atMs: 5, doneSec: 30 })).toBeUndefined();
  });
});

describe("plainLine", () => {
  it("shows status, audio done / total, percent, ETA and ranges on one line", () => {
    expect(plainLine(view(progress(30, 120, [1, 4]), 45))).toBe("running 00:30 / 02:00 (25.0%), ETA 00:45, ranges 1/4");
  });

  it("shows dashes for what is not known yet", () => {
    expect(plainLine({ status: "queued", progress: progress(0, 0, [0, 0]), etaSec: undefined })).toBe("queued --:-- / --:-- (0.0%), ETA --:--, ranges 0/0");
  });
});

describe("changeKey", () => {
  it("ignores the ETA but not progress or status", () => {
    const base = view(progress(30, 120, [1, 4]), 45);
    expect(changeKey(view(progress(30, 120, [1, 4]), 12))).toBe(changeKey(base));
    expect(changeKey(view(progress(30, 120, [2, 4]), 45))).not.toBe(changeKey(base));
    expect(changeKey(view(progress(31, 120, [1, 4]), 45))).not.toBe(changeKey(base));
    expect(changeKey({ ...base, status: "completed" })).not.toBe(changeKey(base));
  });
});

describe("progressBar", () => {
  it("fills the bar in proportion and carries the same figures as the plain line", () => {
    const line = progressBar(view(progress(30, 120, [1, 4]), 45), 120);
    expect(line).toBe(`running [${"█".repeat(8)}${"░".repeat(22)}] 00:30 / 02:00 (25.0%)  ETA 00:45  ranges 1/4`);
  });

  it("narrows the bar, then cuts the line, so it never wraps the terminal", () => {
    for (const columns of [20, 40, 60, 80, 200]) {
      const line = progressBar(view(progress(5400, 36_000, [3, 120]), 7200), columns);
      expect([...line].length).toBeLessThanOrEqual(columns - 1);
    }
    const medium = progressBar(view(progress(5400, 36_000, [3, 120]), 7200), 80);
    expect(medium).toContain("1:30:00 / 10:00:00 (15.0%)");
    expect(medium).toMatch(/\[█+░+\]/);
  });

  it("never writes a carriage return or newline itself", () => {
    expect(progressBar(view(progress(30, 120, [1, 4])), 80)).not.toMatch(/[\r\n]/);
  });
});
