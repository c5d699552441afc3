import { describe, expect, it } from "vitest";
import type { TranscriptJson } from "../../shared/api.ts";
import type { RangeSpeakerReport, Task } from "../../shared/protocol.ts";
import type { Segment } from "../../shared/segment.ts";
import { seg } from "../job/job-fixtures.ts";
import { call, expectError, getJob, submit } from "../test-helpers.ts";
import { claimFor, media, post } from "./machine-test-helpers.ts";

type RangeTask = Extract<Task, { kind: "range" }>;

/** Two voices far apart in the representation space, and a little noise so no two vectors are equal. */
function voice(which: "a" | "b" | "c", jitter: number): number[] {
  const base = { a: [1, 0, 0, 0], b: [0, 1, 0, 0], c: [0, 0, 1, 0] }[which];
  const v = base.map((x, i) => x + jitter * (i + 1) * 0.01);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function speaker(local: string, which: "a" | "b" | "c", talk: number, first: number, jitter = 1): RangeSpeakerReport {
  return { local, vector: voice(which, jitter), talk_sec: talk, first_sec: first };
}

function said(start: number, end: number, text: string, local: string): Segment {
  return { ...seg(start, end, text), speaker: local };
}

async function diarizedJob(body: Record<string, unknown>): Promise<{ id: string; ranges: RangeTask[] }> {
  const { id } = await submit({ diarize: true, ...body });
  const plan = await claimFor(id, "plan");
  const ranges = [
    { start_sec: 0, end_sec: 300 },
    { start_sec: 300, end_sec: 600 },
  ];
  expect((await post(plan, "complete", { machine_sec: 1, plan: { duration_sec: 600, ranges, media } })).status).toBe(200);
  const tasks = [(await claimFor(id, "range")) as RangeTask, (await claimFor(id, "range")) as RangeTask];
  return { id, ranges: tasks.sort((x, y) => x.range_index - y.range_index) };
}

async function transcript(id: string, format: string, partial = false): Promise<Response> {
  const r = await call("GET", `/v1/transcriptions/${id}/transcript?format=${format}${partial ? "&partial=true" : ""}`);
  expect(r.status).toBe(200);
  return r;
}

describe("diarize: speakers matched across ranges", () => {
  it("labels one voice the same in every range, numbers labels by first appearance, and carries them into every format", async () => {
    const {
      id,
      ranges: [r0, r1],
    } = await diarizedJob({ word_timestamps: true });
    expect((await getJob(id)).options).toMatchObject({ diarize: true });

    // Range 0 hears voice b first ("0"), then a ("1"); range 1 hears a as its "0" and b as its "1".
    const words = [{ word: " Hello", start_sec: 10, end_sec: 10.5, probability: 0.9, speaker: "0" }];
    await post(r0!, "segments", {
      seq: 0,
      segments: [{ ...said(10, 12, "Hello there.", "0"), words }, said(13, 15, "Hi, how are you?", "1")],
      audio_sec_done: 300,
    });
    await post(r1!, "segments", { seq: 0, segments: [said(301, 303, "Fine, thanks.", "0"), said(304, 306, "Good to hear.", "1")], audio_sec_done: 300 });

    // Before its range is done a segment has no label yet.
    const early = (await (await transcript(id, "json", true)).json()) as TranscriptJson;
    expect(early.segments.map((s) => s.speaker)).toEqual([undefined, undefined, undefined, undefined]);

    expect((await post(r1!, "complete", { machine_sec: 2, speakers: [speaker("0", "a", 40, 301, 2), speaker("1", "b", 30, 304, 3)] })).status).toBe(200);
    expect((await post(r0!, "complete", { machine_sec: 2, speakers: [speaker("0", "b", 50, 10, 4), speaker("1", "a", 20, 13, 5)] })).status).toBe(200);
    expect((await getJob(id)).status).toBe("completed");

    const verbose = (await (await transcript(id, "verbose_json")).json()) as TranscriptJson;
    expect(verbose.segments.map((s) => [s.text, s.speaker])).toEqual([
      ["Hello there.", "S1"],
      ["Hi, how are you?", "S2"],
      ["Fine, thanks.", "S2"],
      ["Good to hear.", "S1"],
    ]);
    expect(verbose.segments[0]!.words).toEqual([{ word: " Hello", start_sec: 10, end_sec: 10.5, probability: 0.9, speaker: "S1" }]);
    expect(verbose.speakers).toEqual([
      { label: "S1", talk_sec: 80 },
      { label: "S2", talk_sec: 60 },
    ]);
    expect(verbose.text).toBe("Hello there. Hi, how are you? Fine, thanks. Good to hear.");

    expect(await (await transcript(id, "text")).text()).toBe("S1: Hello there.\nS2: Hi, how are you? Fine, thanks.\nS1: Good to hear.\n");
    const srt = await (await transcript(id, "srt")).text();
    expect(srt).toContain("00:00:10,000 --> 00:00:12,000\nS1: Hello there.\n");
    expect(srt).toContain("00:05:04,000 --> 00:05:06,000\nS1: Good to hear.\n");
    const vtt = await (await transcript(id, "vtt")).text();
    expect(vtt).toContain("00:00:13.000 --> 00:00:15.000\n<v S2>Hi, how are you?\n");
    const plain = (await (await transcript(id, "json")).json()) as TranscriptJson;
    expect(plain.speakers).toBeUndefined();
    expect(plain.segments[3]!.speaker).toBe("S1");
  });

  it("honours num_speakers, and a range done again replaces its speakers instead of adding labels", async () => {
    const {
      id,
      ranges: [r0, r1],
    } = await diarizedJob({ num_speakers: 1 });
    await post(r0!, "segments", { seq: 0, segments: [said(5, 8, "One.", "0"), said(9, 11, "Two.", "1")], audio_sec_done: 300 });
    expect((await post(r0!, "complete", { machine_sec: 1, speakers: [speaker("0", "a", 3, 5), speaker("1", "b", 2, 9)] })).status).toBe(200);

    // Range 1's first attempt is lost; the second names three voices; one voice is still all there is.
    expect((await post(r1!, "fail", { retryable: true, code: "machine_shutdown", message: "SIGTERM" })).status).toBe(200);
    const again = (await claimFor(id, "range")) as RangeTask;
    await post(again, "segments", { seq: 0, segments: [said(310, 312, "Three.", "2")], audio_sec_done: 300 });
    expect(
      (await post(again, "complete", { machine_sec: 1, speakers: [speaker("0", "a", 1, 305), speaker("1", "b", 1, 307), speaker("2", "c", 2, 310)] })).status,
    ).toBe(200);
    const verbose = (await (await transcript(id, "verbose_json")).json()) as TranscriptJson;
    expect(verbose.segments.map((s) => s.speaker)).toEqual(["S1", "S1", "S1"]);
    expect(verbose.speakers).toEqual([{ label: "S1", talk_sec: 9 }]);
  });

  it("takes the speakers a range settled on when it completes, post by post and segment by segment", async () => {
    const {
      id,
      ranges: [r0, r1],
    } = await diarizedJob({ word_timestamps: true });
    // Posted from what the range had heard so far: all "0", then "1" for the next post.
    const words = [{ word: " Yes", start_sec: 20, end_sec: 20.4, probability: 0.9, speaker: "0" }];
    await post(r0!, "segments", { seq: 0, segments: [said(10, 12, "First.", "0"), { ...said(20, 22, "Yes.", "0"), words }], audio_sec_done: 150 });
    await post(r0!, "segments", { seq: 1, segments: [said(30, 32, "Third.", "1"), said(40, 42, "Fourth.", "1")], audio_sec_done: 300 });
    // The whole range says otherwise: the second segment was voice b; the last one nobody's.
    const relabel = [
      { seq: 0, speakers: ["0", "1"] },
      { seq: 1, speakers: ["0", null] },
    ];
    expect((await post(r0!, "complete", { machine_sec: 1, speakers: [speaker("0", "a", 4, 10), speaker("1", "b", 2, 20)], relabel })).status).toBe(200);
    await post(r1!, "segments", { seq: 0, segments: [said(301, 303, "Fifth.", "0")], audio_sec_done: 300 });
    // A machine that sends no relabel keeps its posted labels.
    expect((await post(r1!, "complete", { machine_sec: 1, speakers: [speaker("0", "b", 2, 301, 2)] })).status).toBe(200);

    const verbose = (await (await transcript(id, "verbose_json")).json()) as TranscriptJson;
    expect(verbose.segments.map((s) => [s.text, s.speaker])).toEqual([
      ["First.", "S1"],
      ["Yes.", "S2"],
      ["Third.", "S1"],
      ["Fourth.", undefined],
      ["Fifth.", "S2"],
    ]);
    expect(verbose.segments[1]!.words).toEqual([{ word: " Yes", start_sec: 20, end_sec: 20.4, probability: 0.9, speaker: "S2" }]);

    // A relabel that is not a list of local ids per post is refused, saying where.
    const other = await diarizedJob({});
    await expectError(await post(other.ranges[0]!, "complete", { machine_sec: 1, relabel: [{ seq: -1, speakers: [7] }] }), 400, "invalid_request");
  });

  it("a job without diarize shows no speakers even if a machine names some", async () => {
    const { id } = await submit({});
    const plan = await claimFor(id, "plan");
    await post(plan, "complete", { machine_sec: 1, plan: { duration_sec: 100, ranges: [{ start_sec: 0, end_sec: 100 }], media } });
    const r = (await claimFor(id, "range")) as RangeTask;
    await post(r, "segments", { seq: 0, segments: [said(1, 2, "Hi.", "0")], audio_sec_done: 100 });
    expect((await post(r, "complete", { machine_sec: 1, speakers: [speaker("0", "a", 1, 1)] })).status).toBe(200);
    const verbose = (await (await transcript(id, "verbose_json")).json()) as TranscriptJson;
    expect(verbose.segments[0]!.speaker).toBeUndefined();
    expect(verbose.speakers).toBeUndefined();
    expect(await (await transcript(id, "text")).text()).toBe("Hi.\n");
  });

  it("refuses speaker counts without diarize, or counts that contradict each other", async () => {
    const bad = async (body: Record<string, unknown>, param: string) => {
      const r = await call("POST", "/v1/transcriptions", { body: { audio_url: "https://media.test/audio.mp3", ...body } });
      expect((await expectError(r, 400, "invalid_request")).param).toBe(param);
    };
    await bad({ num_speakers: 2 }, "num_speakers");
    await bad({ diarize: false, max_speakers: 2 }, "max_speakers");
    await bad({ diarize: true, min_speakers: 3, max_speakers: 2 }, "min_speakers");
    await bad({ diarize: true, num_speakers: 5, max_speakers: 4 }, "num_speakers");
    await bad({ diarize: true, num_speakers: 0 }, "num_speakers");
    await bad({ diarize: true, num_speakers: 33 }, "num_speakers");
  });
});
