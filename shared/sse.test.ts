import { describe, expect, it } from "vitest";
import { SseParser, type SseEvent } from "./sse.ts";

/** Feeds `text` in pieces of `size` characters: every split, even inside a line end, must parse the same. */
function parseIn(text: string, size: number, parser = new SseParser()): SseEvent[] {
  const events: SseEvent[] = [];
  for (let i = 0; i < text.length; i += size) events.push(...parser.push(text.slice(i, i + size)));
  return events;
}

const STREAM =
  "retry: 3000\n\n" +
  'event: status\ndata: {"status":"running"}\n\n' +
  ": keep-alive\n\n" +
  'id: 4\nevent: segments\ndata: {"segments":[]}\n\n' +
  "data: first line\ndata: second line\n\n";

describe("SseParser", () => {
  it("parses events, their ids and multi-line data, skipping comments, whatever the chunking", () => {
    const want: SseEvent[] = [
      { event: "status", data: '{"status":"running"}' },
      { id: "4", event: "segments", data: '{"segments":[]}' },
      { event: "message", data: "first line\nsecond line" },
    ];
    for (const size of [1, 2, 3, 7, STREAM.length]) expect(parseIn(STREAM, size), `pieces of ${size}`).toEqual(want);
  });

  it("takes \\r\\n and a lone \\r as line ends, also when a \\r\\n is split between chunks", () => {
    for (const eol of ["\r\n", "\r"]) {
      const text = STREAM.replace(/\n/g, eol);
      for (const size of [1, 2, 5, text.length]) {
        const parser = new SseParser();
        expect(parseIn(text, size, parser).map((e) => e.data)).toEqual(['{"status":"running"}', '{"segments":[]}', "first line\nsecond line"]);
        expect(parser.retryMs).toBe(3000);
      }
    }
  });

  it("keeps the last id, also from a block with no data, which is not an event", () => {
    const parser = new SseParser("2");
    expect(parser.lastEventId).toBe("2");
    expect(parser.push("id: 7\n\n")).toEqual([]);
    expect(parser.lastEventId).toBe("7");
    // An event without its own id carries none, though the last id stays.
    expect(parser.push("event: progress\ndata: {}\n\n")).toEqual([{ event: "progress", data: "{}" }]);
    expect(parser.lastEventId).toBe("7");
    // An id with a NUL is ignored, as EventSource does.
    parser.push("id: 8\0\ndata: x\n\n");
    expect(parser.lastEventId).toBe("7");
  });

  it("reads fields as the standard does: one space after the colon dropped, no colon, unknown fields, bad retry", () => {
    const parser = new SseParser();
    expect(parser.push("data:no space\ndata:  two spaces\n\n")).toEqual([{ event: "message", data: "no space\n two spaces" }]);
    expect(parser.push("data\n\n")).toEqual([{ event: "message", data: "" }]);
    expect(parser.push("foo: bar\nretry: soon\ndata: x\n\n")).toEqual([{ event: "message", data: "x" }]);
    expect(parser.retryMs).toBeNull();
  });

  it("drops a leading byte order mark, and holds an unfinished block until its blank line", () => {
    const parser = new SseParser();
    expect(parser.push("\uFEFFdata: a\n")).toEqual([]);
    expect(parser.push("\n")).toEqual([{ event: "message", data: "a" }]);
    expect(parser.push("event: status\ndata: b")).toEqual([]);
    expect(parser.push("\n\n")).toEqual([{ event: "status", data: "b" }]);
  });
});
