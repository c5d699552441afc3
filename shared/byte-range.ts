/**
 * One `Range: bytes=` request against a file of `size` bytes, as RFC 9110 reads
 * it: `a-b`, `a-` and the suffix `-n`. Null means "send the whole file": no header,
 * or a form not served (multiple ranges, other units), which a server may ignore.
 */
export function parseByteRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m) return null;
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return null;
  const start = a === "" ? Math.max(0, size - Number(b)) : Number(a);
  const end = a === "" || b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}
