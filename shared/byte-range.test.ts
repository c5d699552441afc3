import { describe, expect, it } from "vitest";
import { parseByteRange } from "./byte-range.ts";

describe("parseByteRange", () => {
  it("reads the three single-range forms against the file's size", () => {
    expect(parseByteRange("bytes=0-0", 1000)).toEqual({ start: 0, end: 0 });
    expect(parseByteRange("bytes=500-509", 1000)).toEqual({ start: 500, end: 509 });
    expect(parseByteRange("bytes=990-", 1000)).toEqual({ start: 990, end: 999 });
    expect(parseByteRange("bytes=990-5000", 1000)).toEqual({ start: 990, end: 999 });
    expect(parseByteRange("bytes=-3", 1000)).toEqual({ start: 997, end: 999 });
    expect(parseByteRange("bytes=-5000", 1000)).toEqual({ start: 0, end: 999 });
    expect(parseByteRange(" bytes=1-2 ", 1000)).toEqual({ start: 1, end: 2 });
  });

  it("says unsatisfiable past the end, and null (the whole file) for forms it does not serve", () => {
    expect(parseByteRange("bytes=1000-", 1000)).toBe("unsatisfiable");
    expect(parseByteRange("bytes=5-4", 1000)).toBe("unsatisfiable");
    expect(parseByteRange("bytes=-0", 1000)).toBe("unsatisfiable");
    expect(parseByteRange(undefined, 1000)).toBeNull();
    expect(parseByteRange("bytes=-", 1000)).toBeNull();
    expect(parseByteRange("bytes=0-1,5-6", 1000)).toBeNull();
    expect(parseByteRange("items=0-1", 1000)).toBeNull();
  });
});
