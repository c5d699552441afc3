import { describe, expect, it } from "vitest";
import { missingParts, partCount, partRange } from "./upload-parts.ts";

const MiB = 2 ** 20;

describe("partCount and partRange", () => {
  it("cuts a file into full parts and a shorter last one", () => {
    expect(partCount(23 * MiB, 5 * MiB)).toBe(5);
    expect(partRange(1, 23 * MiB, 5 * MiB)).toEqual({ partNumber: 1, start: 0, end: 5 * MiB });
    expect(partRange(5, 23 * MiB, 5 * MiB)).toEqual({ partNumber: 5, start: 20 * MiB, end: 23 * MiB });
  });

  it("has no short last part when the size divides evenly, and one part for a small file", () => {
    expect(partCount(10 * MiB, 5 * MiB)).toBe(2);
    expect(partRange(2, 10 * MiB, 5 * MiB).end).toBe(10 * MiB);
    expect(partCount(1, 5 * MiB)).toBe(1);
    expect(partCount(0, 5 * MiB)).toBe(0);
  });

  it("counts past 4 GiB exactly", () => {
    const size = 5 * 2 ** 30 + 7;
    expect(partCount(size, 64 * MiB)).toBe(81);
    expect(partRange(81, size, 64 * MiB)).toEqual({ partNumber: 81, start: 80 * 64 * MiB, end: size });
  });

  it("refuses a part size that is not positive", () => {
    expect(() => partCount(10, 0)).toThrow(RangeError);
  });
});

describe("missingParts", () => {
  it("lists the parts the server lacks, in order", () => {
    const missing = missingParts(23 * MiB, 5 * MiB, [
      { part_number: 2, size_bytes: 5 * MiB },
      { part_number: 5, size_bytes: 3 * MiB },
    ]);
    expect(missing.map((p) => p.partNumber)).toEqual([1, 3, 4]);
  });

  it("sends again a part held at the wrong size", () => {
    expect(
      missingParts(10 * MiB, 5 * MiB, [
        { part_number: 1, size_bytes: 5 },
        { part_number: 2, size_bytes: 5 * MiB },
      ]).map((p) => p.partNumber),
    ).toEqual([1]);
  });

  it("is empty once every part is held", () => {
    expect(
      missingParts(7, 5, [
        { part_number: 1, size_bytes: 5 },
        { part_number: 2, size_bytes: 2 },
      ]),
    ).toEqual([]);
  });
});
