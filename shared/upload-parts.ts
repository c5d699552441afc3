/**
 * A multipart upload's parts, as client and server count them: numbered from
 * 1, each `partSize` bytes except the last, which is the rest of the file.
 */

/** One part: its number and the bytes [start, end) of the file it carries. */
export interface PartRange {
  partNumber: number;
  start: number;
  end: number;
}

/** A part the server says it holds (`parts` of the upload object). */
export interface ReceivedPart {
  part_number: number;
  size_bytes: number;
}

export function partCount(sizeBytes: number, partSizeBytes: number): number {
  if (!(partSizeBytes > 0)) throw new RangeError(`part size must be positive, not ${partSizeBytes}`);
  return Math.ceil(Math.max(0, sizeBytes) / partSizeBytes);
}

export function partRange(partNumber: number, sizeBytes: number, partSizeBytes: number): PartRange {
  const start = (partNumber - 1) * partSizeBytes;
  return { partNumber, start, end: Math.min(sizeBytes, start + partSizeBytes) };
}

/** The parts still to send: those the server lacks, and any it holds at a size that cannot be right. */
export function missingParts(sizeBytes: number, partSizeBytes: number, received: readonly ReceivedPart[]): PartRange[] {
  const held = new Map(received.map((p) => [p.part_number, p.size_bytes]));
  const missing: PartRange[] = [];
  for (let n = 1; n <= partCount(sizeBytes, partSizeBytes); n++) {
    const range = partRange(n, sizeBytes, partSizeBytes);
    if (held.get(n) !== range.end - range.start) missing.push(range);
  }
  return missing;
}
