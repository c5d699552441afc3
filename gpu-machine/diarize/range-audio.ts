import type { Span } from "./speaker-timeline.ts";

/**
 * A range's audio as it arrives, kept whole until the range is done: the
 * final voice of each speaker is made from all of its clean speech (300 s of
 * 16 kHz float32 is 19 MB). Positions are samples from the first one pushed.
 */
export class RangeAudio {
  private readonly blocks: { at: number; samples: Float32Array }[] = [];
  private total = 0;

  get length(): number {
    return this.total;
  }

  /**
   * Appends samples that start at `at`. A gap (a chunk lost upstream) reads as
   * silence; samples already held are not taken twice, so a block that
   * overlaps its predecessor by a rounding error adds only what is new.
   */
  append(at: number, samples: Float32Array): void {
    if (at > this.total) this.push(new Float32Array(at - this.total));
    const skip = Math.max(0, this.total - at);
    if (skip < samples.length) this.push(samples.subarray(skip));
  }

  private push(samples: Float32Array): void {
    this.blocks.push({ at: this.total, samples });
    this.total += samples.length;
  }

  /** Samples [from, to), zero where nothing was pushed (past the end). */
  read(from: number, to: number, out = new Float32Array(Math.max(0, to - from))): Float32Array {
    out.fill(0);
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const b = this.blocks[mid]!;
      if (b.at + b.samples.length <= from) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < this.blocks.length; k++) {
      const b = this.blocks[k]!;
      if (b.at >= to) break;
      const start = Math.max(from, b.at);
      const end = Math.min(to, b.at + b.samples.length);
      if (end > start) out.set(b.samples.subarray(start - b.at, end - b.at), start - from);
    }
    return out;
  }

  /** The spans' samples one after another (spans in sample positions, rounded to whole samples). */
  gather(spans: readonly Span[]): Float32Array {
    const whole = spans.map((s) => ({ start: Math.max(0, Math.round(s.start)), end: Math.min(this.total, Math.round(s.end)) })).filter((s) => s.end > s.start);
    const out = new Float32Array(whole.reduce((n, s) => n + s.end - s.start, 0));
    let at = 0;
    for (const s of whole) {
      this.read(s.start, s.end, out.subarray(at, at + s.end - s.start));
      at += s.end - s.start;
    }
    return out;
  }
}
