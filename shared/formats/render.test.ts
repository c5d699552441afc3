import { describe, expect, it } from "vitest";
import type { Segment } from "../segment.ts";
import { vttCueText } from "./cue-text.ts";
import { renderTranscript, type TranscriptFormat } from "./render.ts";
import { formatTimestamp } from "./timestamp.ts";

const seg = (start: number, end: number, text: string, language = "en"): Segment => ({
  start_sec: start,
  end_sec: end,
  text,
  language,
  avg_logprob: -0.25,
  no_speech_prob: 0.1,
});

async function render(format: TranscriptFormat, segments: Segment[], language: string | null = "en"): Promise<string> {
  let out = "";
  const source = async function* () {
    yield* segments;
  };
  for await (const piece of renderTranscript(format, { language, audio_duration_sec: 100, usage: { machine_sec: 1, cost_usd: 0, speedup: 5 } }, source))
    out += piece;
  return out;
}

describe("formatTimestamp", () => {
  it.each([
    [0, ",", "00:00:00,000"],
    [1.0004, ",", "00:00:01,000"],
    [59.9996, ",", "00:01:00,000"],
    [3723.456, ".", "01:02:03.456"],
    [100 * 3600 + 1.5, ",", "100:00:01,500"],
    [-3, ".", "00:00:00.000"],
  ] as const)("formats %s", (sec, sep, expected) => {
    expect(formatTimestamp(sec, sep)).toBe(expected);
  });
});

describe("renderTranscript", () => {
  const segments = [seg(0, 1.5, " Hello there."), seg(1.5, 3, " General\n\nKenobi --> <b>&")];

  it("writes numbered SRT cues without blank lines inside a cue", async () => {
    expect(await render("srt", segments)).toBe(
      "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n00:00:01,500 --> 00:00:03,000\nGeneral\nKenobi --> <b>&\n\n",
    );
  });

  it("writes WebVTT with its header and escapes markup and arrows", async () => {
    expect(await render("vtt", segments)).toBe(
      "WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n2\n00:00:01.500 --> 00:00:03.000\nGeneral\nKenobi --&gt; &lt;b&gt;&amp;\n\n",
    );
    expect(vttCueText("   ")).toBe("…");
  });

  it("joins text with spaces, but not in scripts written without them", async () => {
    expect(await render("text", segments)).toBe("Hello there. General\n\nKenobi --> <b>&\n");
    expect(await render("text", [seg(0, 1, " 你好", "zh"), seg(1, 2, "世界", "zh")], "zh")).toBe("你好世界\n");
    expect(await render("text", [])).toBe("\n");
  });

  it("streams JSON that parses to the documented shape", async () => {
    const json = JSON.parse(await render("json", segments));
    expect(json).toEqual({
      text: "Hello there. General\n\nKenobi --> <b>&",
      language: "en",
      segments: [
        { start_sec: 0, end_sec: 1.5, text: "Hello there.", language: "en", bcp47: "en" },
        { start_sec: 1.5, end_sec: 3, text: "General\n\nKenobi --> <b>&", language: "en", bcp47: "en" },
      ],
      audio_duration_sec: 100,
    });
    const verbose = JSON.parse(await render("verbose_json", [{ ...seg(0, 1, "a", "jw"), words: [{ word: "a", start_sec: 0, end_sec: 1, probability: 0.5 }] }]));
    expect(verbose.segments[0]).toEqual({
      start_sec: 0,
      end_sec: 1,
      text: "a",
      language: "jw",
      bcp47: "jv",
      avg_logprob: -0.25,
      no_speech_prob: 0.1,
      words: [{ word: "a", start_sec: 0, end_sec: 1, probability: 0.5 }],
    });
    expect(verbose.usage).toEqual({ machine_sec: 1, cost_usd: 0, speedup: 5 });
  });

  it("labels speakers: a line per turn in text, a prefix in SRT, a voice span in VTT, a field in JSON", async () => {
    const turns = [
      { ...seg(0, 1, " Hi.", "en"), speaker: "S1" },
      { ...seg(1, 2, " Who's <there>?"), speaker: "S2" },
      { ...seg(2, 3, " Me."), speaker: "S2" },
      seg(3, 4, " (no speaker heard)"),
      { ...seg(4, 5, " Bye."), speaker: "S1" },
    ];
    expect(await render("text", turns)).toBe("S1: Hi.\nS2: Who's <there>? Me. (no speaker heard)\nS1: Bye.\n");
    expect(await render("srt", turns.slice(0, 2))).toBe(
      "1\n00:00:00,000 --> 00:00:01,000\nS1: Hi.\n\n2\n00:00:01,000 --> 00:00:02,000\nS2: Who's <there>?\n\n",
    );
    expect(await render("vtt", turns.slice(1, 2))).toBe("WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n<v S2>Who's &lt;there&gt;?\n\n");
    const json = JSON.parse(await render("json", turns));
    expect(json.text).toBe("Hi. Who's <there>? Me. (no speaker heard) Bye.");
    expect(json.segments.map((s: { speaker?: string }) => s.speaker)).toEqual(["S1", "S2", "S2", undefined, "S1"]);
    let out = "";
    const source = async function* () {
      yield* turns;
    };
    const speakers = [
      { label: "S1", talk_sec: 2 },
      { label: "S2", talk_sec: 2 },
    ];
    for await (const piece of renderTranscript("verbose_json", { language: "en", audio_duration_sec: 5, speakers }, source)) out += piece;
    expect(JSON.parse(out).speakers).toEqual(speakers);
    expect(JSON.parse(await render("json", turns)).speakers).toBeUndefined();
  });
});
