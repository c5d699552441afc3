import { describe, expect, it } from "vitest";
import { type LiveChange, type LiveSegment, LiveTranscript } from "./live-transcript.ts";
import type { SseEvent } from "./sse.ts";

const seg = (start: number, text: string, end = start + 2): LiveSegment => ({ start_sec: start, end_sec: end, text, language: "en", bcp47: "en" });
const segments = (id: number | undefined, ...list: LiveSegment[]): SseEvent => ({
  ...(id === undefined ? {} : { id: String(id) }),
  event: "segments",
  data: JSON.stringify({ segments: list }),
});
const replace = (id: number, range_index: number, start_sec: number, end_sec: number): SseEvent => ({
  id: String(id),
  event: "replace",
  data: JSON.stringify({ range_index, start_sec, end_sec }),
});
const texts = (t: LiveTranscript) => t.segments.map((s) => s.text);

/** Applies the changes to a plain list the way a page applies them to its lines. */
function mirror(list: string[], changes: LiveChange[]): string[] {
  for (const c of changes) {
    if (c.kind === "added") for (const { at, segment } of c.added) list.splice(at, 0, segment.text);
    if (c.kind === "removed") list.splice(c.at, c.removed.length);
  }
  return list;
}

describe("LiveTranscript", () => {
  it("keeps segments in time order whatever order the merges come in, and says where each went", () => {
    const t = new LiveTranscript();
    const lines: string[] = [];
    mirror(lines, t.apply(segments(1, seg(0, "a"), seg(3, "b"))));
    // Another range, further on, merged before the rest of the first.
    mirror(lines, t.apply(segments(2, seg(300, "x"), seg(303, "y"))));
    const changes = t.apply(segments(3, seg(6, "c"), seg(9, "d")));
    expect(changes).toEqual([
      {
        kind: "added",
        added: [
          { at: 2, segment: seg(6, "c") },
          { at: 3, segment: seg(9, "d") },
        ],
      },
    ]);
    mirror(lines, changes);
    expect(texts(t)).toEqual(["a", "b", "c", "d", "x", "y"]);
    expect(lines).toEqual(texts(t));
    expect(t.lastEventId).toBe(3);
  });

  it("holds the pages of a large merge until its last one, which carries the id, and drops them when the stream drops", () => {
    const t = new LiveTranscript();
    t.apply(segments(5, seg(0, "a")));
    expect(t.apply(segments(undefined, seg(3, "b")))).toEqual([]);
    expect(texts(t)).toEqual(["a"]);
    // The connection drops mid-merge: the resumed stream sends the whole merge again.
    t.dropPending();
    expect(t.lastEventId).toBe(5);
    t.apply(segments(undefined, seg(3, "b")));
    expect(t.apply(segments(6, seg(6, "c")))).toEqual([
      {
        kind: "added",
        added: [
          { at: 1, segment: seg(3, "b") },
          { at: 2, segment: seg(6, "c") },
        ],
      },
    ]);
    expect(texts(t)).toEqual(["a", "b", "c"]);
  });

  it("a replace drops the segments that start in its span; the redo's segments take their place", () => {
    const t = new LiveTranscript();
    t.apply(segments(1, seg(0, "a"), seg(58, "b", 61), seg(60, "c"), seg(119, "d"), seg(120, "e")));
    const lines = [...texts(t)];
    const changes = t.apply(replace(2, 1, 60, 120));
    expect(changes).toEqual([{ kind: "removed", at: 2, removed: [seg(60, "c"), seg(119, "d")], span: { range_index: 1, start_sec: 60, end_sec: 120 } }]);
    mirror(lines, changes);
    mirror(lines, t.apply(segments(3, seg(61, "c2"), seg(100, "d2"))));
    expect(texts(t)).toEqual(["a", "b", "c2", "d2", "e"]);
    expect(lines).toEqual(texts(t));
    expect(t.lastEventId).toBe(3);
  });

  it("keeps the status, its error and the progress; a final status lets held pages stand", () => {
    const t = new LiveTranscript();
    const progress = { audio_sec_done: 30, audio_sec_total: 60, ranges_done: 0, ranges_total: 1, ranges_active: 1 };
    expect(t.apply({ event: "progress", data: JSON.stringify(progress) })).toEqual([{ kind: "progress", progress }]);
    t.apply(segments(undefined, seg(0, "a")));
    const error = { code: "media_unreadable", message: "could not decode" };
    expect(t.apply({ event: "status", data: JSON.stringify({ status: "failed", error }) })).toEqual([
      { kind: "added", added: [{ at: 0, segment: seg(0, "a") }] },
      { kind: "status", status: "failed", error },
    ]);
    expect([t.status, t.error, t.progress]).toEqual(["failed", error, progress]);
  });

  it("ignores events it does not know and data that is not what it should be", () => {
    const t = new LiveTranscript();
    expect(t.apply({ event: "message", data: "{}" })).toEqual([]);
    expect(t.apply({ event: "segments", id: "1", data: "not json" })).toEqual([]);
    expect(t.apply({ id: "2", event: "segments", data: JSON.stringify({ segments: [{ text: "no times" }, seg(1, "ok")] }) })).toHaveLength(1);
    expect(t.apply({ id: "3", event: "replace", data: JSON.stringify({ start_sec: 0 }) })).toEqual([]);
    expect(texts(t)).toEqual(["ok"]);
  });

  it("reconciles with the transcript read whole: what it lacked is added, what no longer stands removed, the rest kept", () => {
    const t = new LiveTranscript();
    t.apply(segments(1, seg(0, "a"), seg(3, "b"), seg(6, "old")));
    const kept = t.segments[0];
    const { added, removed } = t.reconcile([seg(0, "a"), seg(3, "b"), seg(6, "new"), seg(9, "more")]);
    expect(added.map((s) => s.text)).toEqual(["new", "more"]);
    expect(removed.map((s) => s.text)).toEqual(["old"]);
    expect(texts(t)).toEqual(["a", "b", "new", "more"]);
    expect(t.segments[0]).toBe(kept);
  });
});
