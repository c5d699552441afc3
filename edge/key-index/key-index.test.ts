import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newId } from "../../shared/ids.ts";
import { keyIndexStub } from "../job-stubs.ts";

describe("a key's index counts what its quotas count, whatever order the job's calls arrive in", () => {
  it("an index entry retried after the job finished does not count it as unfinished", async () => {
    const index = keyIndexStub(env, `key_${crypto.randomUUID().replace(/-/g, "")}`);
    const [early, late] = [newId("tr"), newId("tr")];
    await index.add(early, 1, null, { active: true, audio_sec: 0 });
    await index.sync(early, 1, { active: true, audio_sec: 7200 });
    expect(await index.load()).toEqual({ jobs: 1, audio_sec: 7200 });
    // The job finished (sync) before its own index entry (add, retried from its alarm) arrived.
    await index.sync(late, 2, { active: false, audio_sec: 60 });
    await index.add(late, 2, null, { active: false, audio_sec: 60 });
    await index.sync(early, 1, { active: false, audio_sec: 7200 });
    expect(await index.load()).toEqual({ jobs: 0, audio_sec: 0 });
    expect((await index.list(10, null))?.ids.sort()).toEqual([early, late].sort());
  });
});
