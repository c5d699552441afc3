import { describe, expect, it } from "vitest";
import { byteSize, UploadProgress, uploadBar, uploadPlainLine } from "./upload-progress.ts";

const MB = 1e6;

function output(isTTY: boolean, columns = 100) {
  const writes: string[] = [];
  return { out: { write: (t: string) => writes.push(t), isTTY, columns }, writes };
}

describe("upload progress lines", () => {
  it("shows bytes sent of all, percent, rate and ETA", () => {
    expect(uploadPlainLine({ sentBytes: 120 * MB, totalBytes: 480 * MB, bytesPerSec: 12 * MB })).toBe(
      "uploading 120.0 MB / 480.0 MB (25.0%), 12.0 MB/s, ETA 00:30",
    );
    expect(uploadPlainLine({ sentBytes: 0, totalBytes: 480 * MB, bytesPerSec: undefined })).toBe("uploading 0.0 MB / 480.0 MB (0.0%), -- MB/s, ETA --:--");
    expect(byteSize(5.4e9)).toBe("5400.0 MB");
    expect(byteSize(12.5e9)).toBe("12.50 GB");
  });

  it("fills the bar in proportion and never wraps the terminal", () => {
    const view = { sentBytes: 120 * MB, totalBytes: 480 * MB, bytesPerSec: 12 * MB };
    expect(uploadBar(view, 120)).toBe(`uploading [${"█".repeat(8)}${"░".repeat(22)}] 120.0 MB / 480.0 MB (25.0%)  12.0 MB/s  ETA 00:30`);
    for (const columns of [20, 40, 60, 80, 200]) expect([...uploadBar(view, columns)].length).toBeLessThanOrEqual(columns - 1);
  });
});

describe("UploadProgress", () => {
  it("without a terminal, writes a line at the start and one per 10 %, counting what an earlier run sent", () => {
    let now = 0;
    const { out, writes } = output(false);
    const progress = new UploadProgress(out, 100 * MB, 40 * MB, () => now);
    for (let i = 0; i < 60; i++) {
      now += 100;
      progress.add(MB);
    }
    expect(writes.map((w) => w.slice(0, w.indexOf(")") + 1))).toEqual([
      "uploading 40.0 MB / 100.0 MB (40.0%)",
      "uploading 50.0 MB / 100.0 MB (50.0%)",
      "uploading 60.0 MB / 100.0 MB (60.0%)",
      "uploading 70.0 MB / 100.0 MB (70.0%)",
      "uploading 80.0 MB / 100.0 MB (80.0%)",
      "uploading 90.0 MB / 100.0 MB (90.0%)",
      "uploading 100.0 MB / 100.0 MB (100.0%)",
    ]);
    // The rate is this run's: 60 MB in 6 s.
    expect(writes.at(-1)).toBe("uploading 100.0 MB / 100.0 MB (100.0%), 10.0 MB/s, ETA 00:00\n");
    progress.finish();
    expect(writes).toHaveLength(7);
  });

  it("on a terminal, redraws one line at most every 200 ms, always the last, and ends it on finish", () => {
    let now = 0;
    const { out, writes } = output(true);
    const progress = new UploadProgress(out, 10 * MB, 0, () => now);
    for (let i = 0; i < 10; i++) {
      now += 50;
      progress.add(MB);
    }
    expect(writes.every((w) => w.startsWith("\r") && w.endsWith("\x1b[K"))).toBe(true);
    expect(writes.length).toBeLessThanOrEqual(5);
    expect(writes.at(-1)).toContain("(100.0%)");
    progress.finish();
    expect(writes.at(-1)?.endsWith("\x1b[K\n")).toBe(true);
  });

  it("takes back the bytes of a part that failed", () => {
    const { out } = output(false);
    const progress = new UploadProgress(out, 10 * MB, 0);
    progress.add(3 * MB);
    progress.add(-3 * MB);
    expect(progress.sentBytes).toBe(0);
  });
});
