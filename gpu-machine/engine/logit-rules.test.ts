import { describe, expect, it } from "vitest";
import { applyLogitRules, argmax, sampleToken, seededRandom, type RuleTokens } from "./logit-rules.ts";

// A toy vocabulary: 0–9 text, 10 end-of-text, 11–13 specials, 14 no-timestamps, 15+ timestamps.
const T: RuleTokens = { eot: 10, noTimestamps: 14, timestampBegin: 15, suppress: [11, 12, 13, 3], beginSuppress: [0, 10] };
const SIZE = 15 + 101;
const opts = { timestamps: true, maxInitialTimestampIndex: 50 };
const ts = (i: number) => 15 + i;

function row(fill: (i: number) => number): Float32Array {
  return Float32Array.from({ length: SIZE }, (_, i) => fill(i));
}
const allowed = (r: Float32Array) => [...r.keys()].filter((i) => r[i] !== -Infinity);

describe("Whisper's timestamp rules", () => {
  it("the first token is a timestamp no later than 1 s", () => {
    const r = row((i) => (i === 5 ? 100 : i === ts(80) ? 50 : 0));
    applyLogitRules(r, [], T, opts);
    expect(allowed(r).every((i) => i >= ts(0) && i <= ts(50))).toBe(true);
  });

  it("after a pair of timestamps comes text, never a third timestamp", () => {
    const r = row(() => 0);
    applyLogitRules(r, [ts(0), 5, ts(10), ts(10)], T, opts);
    expect(allowed(r).some((i) => i >= ts(0))).toBe(false);
  });

  it("after text then one timestamp, only a timestamp (not below it) or the end", () => {
    const r = row((i) => (i === 10 ? 10 : 0)); // end-of-text likely enough not to be forced out
    applyLogitRules(r, [ts(0), 5, ts(10)], T, opts);
    expect(allowed(r).filter((i) => i < ts(0))).toEqual([10]);
    expect(Math.min(...allowed(r).filter((i) => i >= ts(0)))).toBe(ts(10));
  });

  it("inside a segment a timestamp must be later than the one that opened it", () => {
    const r = row((i) => (i === 6 ? 10 : 0));
    applyLogitRules(r, [ts(0), 5, ts(10), ts(12), 5], T, opts);
    expect(Math.min(...allowed(r).filter((i) => i >= ts(0)))).toBe(ts(13));
  });

  it("forces a timestamp when their summed probability beats every text token", () => {
    // Text token 5 alone is likelier than any one timestamp, but not than all of them.
    const r = row((i) => (i === 5 ? 3 : i > ts(12) ? 0 : -50));
    applyLogitRules(r, [ts(0), 4], T, opts);
    expect(r[5]).toBe(-Infinity);
    expect(argmax(r)).toBeGreaterThanOrEqual(ts(0));
    const keep = row((i) => (i === 5 ? 20 : i > ts(12) ? 0 : -50));
    applyLogitRules(keep, [ts(0), 4], T, opts);
    expect(argmax(keep)).toBe(5);
  });

  it("suppresses listed tokens, blank starts and no-timestamps", () => {
    const r = row(() => 1);
    applyLogitRules(r, [ts(0)], T, opts);
    for (const t of [3, 11, 12, 13, 14]) expect(r[t]).toBe(-Infinity);
    const first = row(() => 1);
    applyLogitRules(first, [], T, { ...opts, timestamps: false });
    expect(first[0]).toBe(-Infinity);
    expect(first[10]).toBe(-Infinity);
    expect(allowed(first).some((i) => i >= ts(0))).toBe(false);
  });
});

describe("sampling", () => {
  it("is reproducible for a seed and never picks a suppressed token", () => {
    const r = row((i) => (i < 10 ? 0 : -Infinity));
    const a = Array.from(
      { length: 50 },
      (
        (rand) => () =>
          sampleToken(r, 1, rand)
      )(seededRandom(42)),
    );
    const b = Array.from(
      { length: 50 },
      (
        (rand) => () =>
          sampleToken(r, 1, rand)
      )(seededRandom(42)),
    );
    expect(a).toEqual(b);
    expect(a.every((t) => t < 10)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(3);
  });
});
