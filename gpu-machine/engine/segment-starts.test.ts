import { describe, expect, it } from "vitest";
import { toneBursts } from "../../test/support/tone-bursts.ts";
import { snapStarts } from "./segment-starts.ts";

describe("snapStarts", () => {
  // Speech-like sound at 2.6–5 s and 6–9 s of a 12 s chunk, over a faint floor.
  const chunk = toneBursts(
    12,
    [
      [2.6, 5, 0.2],
      [6, 9, 0.2],
    ],
    0.0005,
  );

  it("moves a start given at the silence before the speech to where the speech begins", () => {
    const [first, second] = snapStarts(
      [
        { startSec: 2, endSec: 5.2 },
        { startSec: 5.2, endSec: 9 },
      ],
      chunk,
    );
    expect(first!.startSec).toBeCloseTo(2.6, 1);
    expect(first!.endSec).toBe(5.2);
    expect(second!.startSec).toBeCloseTo(6, 1);
  });

  it("leaves a start inside its speech, and one whose sound begins too far after it", () => {
    expect(snapStarts([{ startSec: 6.5, endSec: 9 }], chunk)[0]!.startSec).toBeCloseTo(6.5, 1);
    expect(snapStarts([{ startSec: 0, endSec: 5 }], chunk)[0]!.startSec).toBe(0);
  });

  it("keeps segments in order when one overlaps the next", () => {
    const [first, second] = snapStarts(
      [
        { startSec: 2, endSec: 5 },
        { startSec: 2.3, endSec: 4 },
      ],
      chunk,
    );
    expect(first!.startSec).toBeLessThanOrEqual(second!.startSec);
  });

  it("starts a segment with word times at its first word", () => {
    const words = [{ word: " Hello", startSec: 2.62, endSec: 3, probability: 0.9 }];
    expect(snapStarts([{ startSec: 2, endSec: 5, words }], chunk)[0]!.startSec).toBe(2.62);
  });
});
