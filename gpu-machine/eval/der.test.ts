import { describe, expect, it } from "vitest";
import { type DiarizationErrorRate, diarizationErrorRate, type SpeakerTurn } from "./der.ts";

const turn = (start: number, end: number, speaker: string): SpeakerTurn => ({ start, end, speaker });

/** Compares every number to 1e-9 s (sums of float boundaries) and the mapping exactly. */
function expectScore(got: DiarizationErrorRate, want: DiarizationErrorRate): void {
  for (const key of ["der", "missed", "falseAlarm", "confusion", "total"] as const) expect(got[key], key).toBeCloseTo(want[key], 9);
  expect(got.mapping).toEqual(want.mapping);
}

// A two-person exchange: A, then B.
const dialogue = [turn(0, 10, "A"), turn(10, 20, "B")];

describe("diarizationErrorRate", () => {
  it("is 0 for a perfect hypothesis whatever its labels are called", () => {
    const hyp = [turn(0, 10, "spk_7"), turn(10, 20, "spk_2")];
    expectScore(diarizationErrorRate(dialogue, hyp), { der: 0, missed: 0, falseAlarm: 0, confusion: 0, total: 19, mapping: { spk_7: "A", spk_2: "B" } });
    expect(diarizationErrorRate(dialogue, hyp, { collar: 0 }).total).toBeCloseTo(20, 9);
  });

  it("is 0 when the hypothesis uses the reference's labels swapped", () => {
    const hyp = [turn(0, 10, "B"), turn(10, 20, "A")];
    expectScore(diarizationErrorRate(dialogue, hyp, { collar: 0 }), { der: 0, missed: 0, falseAlarm: 0, confusion: 0, total: 20, mapping: { B: "A", A: "B" } });
  });

  it("is 1 when every second of speech is missed", () => {
    expectScore(diarizationErrorRate(dialogue, [], { collar: 0 }), { der: 1, missed: 20, falseAlarm: 0, confusion: 0, total: 20, mapping: {} });
  });

  it("counts speech where nobody spoke as false alarm", () => {
    // 5 s of an invented speaker in the silence after the dialogue.
    const hyp = [...dialogue, turn(25, 30, "C")];
    expectScore(diarizationErrorRate(dialogue, hyp, { collar: 0 }), {
      der: 0.25,
      missed: 0,
      falseAlarm: 5,
      confusion: 0,
      total: 20,
      mapping: { A: "A", B: "B" },
    });
    // With no reference speech at all the rate is unbounded, as WER is for insertions only.
    expectScore(diarizationErrorRate([], [turn(0, 3, "X")]), { der: Infinity, missed: 0, falseAlarm: 3, confusion: 0, total: 0, mapping: {} });
    expectScore(diarizationErrorRate([], []), { der: 0, missed: 0, falseAlarm: 0, confusion: 0, total: 0, mapping: {} });
  });

  it("counts speech given to the wrong speaker as confusion", () => {
    // X runs 5 s into B's turn. Overlaps: X–A 10, X–B 5, Y–B 5, so X→A, Y→B
    // (15 s correct), and 10–15 s is B labelled as A: 5 s of 20.
    const hyp = [turn(0, 15, "X"), turn(15, 20, "Y")];
    expectScore(diarizationErrorRate(dialogue, hyp, { collar: 0 }), {
      der: 0.25,
      missed: 0,
      falseAlarm: 0,
      confusion: 5,
      total: 20,
      mapping: { X: "A", Y: "B" },
    });
  });

  it("maps one-to-one: two reference speakers cannot both take the same label", () => {
    // One label for the whole dialogue: it maps to one of them; the other's 10 s are confusion.
    const got = diarizationErrorRate(dialogue, [turn(0, 20, "X")], { collar: 0 });
    expect(got.confusion).toBeCloseTo(10, 9);
    expect(got.der).toBeCloseTo(0.5, 9);
    expect(Object.keys(got.mapping)).toEqual(["X"]);
  });

  it("counts overlapped speech once per speaker", () => {
    // A 0–10 and B 6–15 overlap for 4 s: 19 s of reference speech. One
    // hypothesis label over 0–15 shares 10 s with A and 9 s with B, so it is A:
    // 6–10 misses B (4 s), 10–15 calls B "A" (5 s).
    const ref = [turn(0, 10, "A"), turn(6, 15, "B")];
    expectScore(diarizationErrorRate(ref, [turn(0, 15, "X")], { collar: 0 }), {
      der: 9 / 19,
      missed: 4,
      falseAlarm: 0,
      confusion: 5,
      total: 19,
      mapping: { X: "A" },
    });
    // Finding both speakers in the overlap scores it perfectly.
    const both = [turn(0, 10, "X"), turn(6, 15, "Y")];
    expectScore(diarizationErrorRate(ref, both, { collar: 0 }), { der: 0, missed: 0, falseAlarm: 0, confusion: 0, total: 19, mapping: { X: "A", Y: "B" } });
  });

  it("does not score 0.25 s either side of a reference boundary", () => {
    // The change of speaker found 0.2 s late: inside the collar, not an error.
    const late = [turn(0, 10.2, "X"), turn(10.2, 20, "Y")];
    const scored = diarizationErrorRate(dialogue, late);
    expect(scored.der).toBe(0);
    // Scored area: 20 s less 0.25 s at 0 and at 20 and 0.5 s around 10 (once, though both turns end or start there).
    expect(scored.total).toBeCloseTo(19, 9);
    // Without a collar those 0.2 s are confusion.
    expectScore(diarizationErrorRate(dialogue, late, { collar: 0 }), {
      der: 0.01,
      missed: 0,
      falseAlarm: 0,
      confusion: 0.2,
      total: 20,
      mapping: { X: "A", Y: "B" },
    });
    // 0.4 s late: only the 0.15 s past the collar counts.
    const later = [turn(0, 10.4, "X"), turn(10.4, 20, "Y")];
    expectScore(diarizationErrorRate(dialogue, later), { der: 0.15 / 19, missed: 0, falseAlarm: 0, confusion: 0.15, total: 19, mapping: { X: "A", Y: "B" } });
    // Hypothesis speech starting 0.2 s before the reference does is not a false alarm either.
    expect(diarizationErrorRate([turn(5, 8, "A")], [turn(4.8, 8, "X")]).der).toBe(0);
  });

  it("does not open a collar where one speaker's turns merely touch", () => {
    const split = [turn(0, 4, "A"), turn(4, 10, "A")];
    const got = diarizationErrorRate(split, [turn(0, 3.9, "X"), turn(4.1, 10, "X")]);
    // 0.2 s of missed speech at 4 s is scored: 4 s is not a boundary of A's speech.
    expect(got.missed).toBeCloseTo(0.2, 9);
    expect(got.total).toBeCloseTo(9.5, 9);
  });

  it("matches a mixed example worked out by hand", () => {
    // Reference: A 0–5, B 4–9 (overlap 4–5), A 10–14, C 14–16.
    // Hypothesis: h1 0–4.5, h2 4.5–9.5, h1 10.5–14, h3 12–13 (a second voice
    // inside A), h2 15–16 (C taken for B).
    const ref = [turn(0, 5, "A"), turn(4, 9, "B"), turn(10, 14, "A"), turn(14, 16, "C")];
    const hyp = [turn(0, 4.5, "h1"), turn(4.5, 9.5, "h2"), turn(10.5, 14, "h1"), turn(12, 13, "h3"), turn(15, 16, "h2")];

    // No collar. Reference speech 10 (A) + 5 (B) + 2 (C) = 16.
    // missed: 4–5 has two speakers and one label (1 × 1 s), 10–10.5 (0.5), 14–15 (1) = 2.5
    // false alarm: h2 9–9.5 (0.5), h3 12–13 beside h1 (1) = 1.5
    // overlaps: h1–A 4+0.5+3.5 = 8, h2–B 0.5+4 = 4.5, h2–C 1, h2–A 0.5, h1–B 0.5, h3–A 1
    //   → h1→A, h2→B; h3 shares nothing with C, so stays unmapped.
    // confusion: 15–16 is C under h2 (= B) = 1. DER = 5 / 16.
    expectScore(diarizationErrorRate(ref, hyp, { collar: 0 }), {
      der: 5 / 16,
      missed: 2.5,
      falseAlarm: 1.5,
      confusion: 1,
      total: 16,
      mapping: { h1: "A", h2: "B" },
    });

    // Collar 0.25: unscored ±0.25 s around 0, 4, 5, 9, 10, 14, 16: 3.5 s of
    // timeline, of which 1 s is silence, 2 s one speaker and 0.5 s (4–4.25,
    // 4.75–5) two speakers. total = 16 − 2 − 2 × 0.5 = 13.
    // missed: 4.25–4.75 one of two (0.5), 10.25–10.5 (0.25), 14.25–15 (0.75) = 1.5
    // false alarm: 9.25–9.5 (0.25), 12–13 (1) = 1.25
    // confusion: 15–15.75 = 0.75. DER = 3.5 / 13.
    // (Cross-checked with a brute-force 1 ms grid over every label mapping.)
    expectScore(diarizationErrorRate(ref, hyp), {
      der: 3.5 / 13,
      missed: 1.5,
      falseAlarm: 1.25,
      confusion: 0.75,
      total: 13,
      mapping: { h1: "A", h2: "B" },
    });
  });

  it("ignores empty turns and counts a speaker's overlapping turns once", () => {
    const ref = [turn(0, 10, "A"), turn(2, 6, "A"), turn(12, 12, "B")];
    expectScore(diarizationErrorRate(ref, [turn(0, 10, "X"), turn(5, 5, "Y")], { collar: 0 }), {
      der: 0,
      missed: 0,
      falseAlarm: 0,
      confusion: 0,
      total: 10,
      mapping: { X: "A" },
    });
  });
});
