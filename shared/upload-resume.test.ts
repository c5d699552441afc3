import { describe, expect, it } from "vitest";
import { findUpload, forgetUpload, readResumeEntries, rememberUpload, resumeKey, type ResumeEntry } from "./upload-resume.ts";

const NOW = 1_000_000;
const entry = (key: string, id: string, expires = NOW + 1000): ResumeEntry => ({ key, upload_id: id, expires_at: expires });

describe("resume bookkeeping", () => {
  it("finds the upload of the same file, and not once it has expired", () => {
    const key = resumeKey(["https://api.test", "/a/talk.mp3", 100, 5]);
    const entries = rememberUpload([], entry(key, "up_1"), NOW);
    expect(findUpload(entries, key, NOW)?.upload_id).toBe("up_1");
    expect(findUpload(entries, resumeKey(["https://api.test", "/a/talk.mp3", 100, 6]), NOW)).toBeUndefined();
    expect(findUpload(entries, key, NOW + 1000)).toBeUndefined();
  });

  it("keeps one entry per file, drops expired ones and forgets on request", () => {
    let entries = rememberUpload([entry("a", "up_old"), entry("gone", "up_x", NOW - 1)], entry("a", "up_new"), NOW);
    expect(entries).toEqual([entry("a", "up_new")]);
    entries = rememberUpload(entries, entry("b", "up_b"), NOW);
    expect(forgetUpload(entries, "a")).toEqual([entry("b", "up_b")]);
  });

  it("keeps at most 50 entries, the newest", () => {
    let entries: ResumeEntry[] = [];
    for (let i = 0; i < 60; i++) entries = rememberUpload(entries, entry(`k${i}`, `up_${i}`), NOW);
    expect(entries).toHaveLength(50);
    expect(entries[0]?.key).toBe("k10");
  });

  it("reads what it can of a damaged store", () => {
    expect(readResumeEntries(null)).toEqual([]);
    expect(readResumeEntries({ key: "a" })).toEqual([]);
    expect(readResumeEntries([entry("a", "up_1"), { key: "b" }, 3])).toEqual([entry("a", "up_1")]);
  });
});
