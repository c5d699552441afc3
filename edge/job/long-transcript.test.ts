import { describe, expect, it } from "vitest";
import type { Segment } from "../../shared/segment.ts";
import { unwrap } from "../errors.ts";
import { call, getJob, reportRow, submit } from "../test-helpers.ts";
import { leaseNext, plan, stubFor } from "./job-fixtures.ts";

const HOURS = 24;
const RANGE_SEC = 300;
const PER_RANGE = 105; // 288 ranges × 105 = 30,240 segments, ~2.9 s each

async function readAll(response: Response): Promise<{ text: string; chunks: number }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let chunks = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks += 1;
    text += decoder.decode(value, { stream: true });
  }
  return { text: text + decoder.decode(), chunks };
}

function checkCues(body: string, separator: "," | "."): number {
  const stamp = separator === "," ? "\\d{2}:\\d{2}:\\d{2},\\d{3}" : "\\d{2}:\\d{2}:\\d{2}\\.\\d{3}";
  const timing = new RegExp(`^(${stamp}) --> (${stamp})$`);
  const toMs = (t: string) => {
    const [h, m, rest] = t.split(":");
    const [s, ms] = rest!.split(/[,.]/);
    return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(ms);
  };
  const blocks = body.trimEnd().split("\n\n");
  let previousStart = -1;
  blocks.forEach((block, i) => {
    const lines = block.split("\n");
    expect(lines[0]).toBe(String(i + 1));
    const m = timing.exec(lines[1]!);
    expect(m, `cue ${i + 1} timing line: ${lines[1]}`).not.toBeNull();
    const start = toMs(m![1]!);
    const end = toMs(m![2]!);
    expect(end).toBeGreaterThanOrEqual(start);
    expect(start).toBeGreaterThanOrEqual(previousStart);
    previousStart = start;
    expect(lines.slice(2).join("").trim().length).toBeGreaterThan(0);
  });
  return blocks.length;
}

describe("a 24-hour recording", () => {
  it("holds 30,000 segments and streams them as valid SRT, VTT and JSON", { timeout: 120_000 }, async () => {
    const started = Date.now();
    const { id } = await submit({});
    const stub = stubFor(id);
    const ranges: Array<[number, number]> = [];
    for (let t = 0; t < HOURS * 3600; t += RANGE_SEC) ranges.push([t, t + RANGE_SEC]);
    await plan(id, ranges);
    const step = RANGE_SEC / PER_RANGE;
    for (let r = 0; r < ranges.length; r++) {
      const task = await leaseNext(id, `m-${r % 8}`);
      const base = task.start_sec;
      const segments: Segment[] = Array.from({ length: PER_RANGE }, (_, k) => ({
        start_sec: base + k * step,
        end_sec: base + (k + 0.9) * step,
        text: ` Sentence ${r}-${k}, with <tags> & "quotes".`,
        language: "en",
        avg_logprob: -0.3,
        no_speech_prob: 0.02,
      }));
      // Post in two halves, second half first, as a machine's retries might.
      unwrap(
        await stub.postSegments({ range_index: task.range_index, attempt: task.attempt, seq: 1, segments: segments.slice(50), audio_sec_done: RANGE_SEC }),
      );
      unwrap(await stub.postSegments({ range_index: task.range_index, attempt: task.attempt, seq: 0, segments: segments.slice(0, 50), audio_sec_done: 150 }));
      unwrap(await stub.completeRange(task.range_index, task.attempt, 20));
    }
    const job = await getJob(id);
    expect(job.status).toBe("completed");
    const expected = ranges.length * PER_RANGE;
    expect(expected).toBeGreaterThanOrEqual(30_000);

    const srt = await call("GET", `/v1/transcriptions/${id}/transcript?format=srt`);
    expect(srt.headers.get("content-type")).toContain("application/x-subrip");
    const srtBody = await readAll(srt);
    expect(srtBody.chunks).toBeGreaterThan(10); // streamed, not one buffer
    expect(checkCues(srtBody.text, ",")).toBe(expected);
    expect(srtBody.text).toContain("\n23:59:57,");

    const vtt = await readAll(await call("GET", `/v1/transcriptions/${id}/transcript?format=vtt`));
    expect(vtt.text.startsWith("WEBVTT\n\n")).toBe(true);
    expect(checkCues(vtt.text.slice("WEBVTT\n\n".length), ".")).toBe(expected);
    expect(vtt.text).toContain("&lt;tags&gt; &amp;");

    const json = JSON.parse((await readAll(await call("GET", `/v1/transcriptions/${id}/transcript?format=json`))).text) as {
      segments: Array<{ start_sec: number; text: string }>;
      text: string;
    };
    expect(json.segments).toHaveLength(expected);
    expect(json.segments.every((s, i) => i === 0 || s.start_sec >= json.segments[i - 1]!.start_sec)).toBe(true);
    expect(json.segments[0]!.text).toBe('Sentence 0-0, with <tags> & "quotes".');
    expect(json.text.startsWith('Sentence 0-0, with <tags> & "quotes". Sentence 0-1')).toBe(true);
    await reportRow({
      suite: "load",
      case: `${HOURS} h plan, ${expected} segments merged and served (workerd)`,
      expected: "every format valid, segments in order, streamed",
      observed: `${ranges.length} ranges, ${json.segments.length} segments; SRT in ${srtBody.chunks} chunks; ${((Date.now() - started) / 1000).toFixed(1)} s`,
      pass: json.segments.length === expected,
    });
  });
});
