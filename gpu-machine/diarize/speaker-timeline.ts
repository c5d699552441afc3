/** A stretch of one speaker, in samples from the start of the range. */
export interface Span {
  start: number;
  end: number;
}

export interface SpeakerSpan extends Span {
  speaker: number;
}

/**
 * Who spoke when in a range, as far as it is decided: pieces are added in time
 * order and never change, so a segment labelled from it early keeps its
 * speaker. Kept merged as it grows (a range of 300 s is ~18 000 frames; the
 * turns are what is asked for, many times).
 */
export class SpeakerTimeline {
  private readonly merged: SpeakerSpan[] = [];
  /** Per speaker: the stretches where it talks alone, merged. */
  private readonly clean = new Map<number, Span[]>();
  private readonly talk = new Map<number, number>();
  private end = 0;

  /** One speaker from `start` to `end` (the dominant one where two talk); `alone` when nobody else does. */
  add(start: number, end: number, speaker: number, alone: boolean): void {
    if (!(end > start)) return;
    if (start < this.end) throw new RangeError(`timeline pieces come in order: ${start} is before ${this.end}`);
    this.end = end;
    appendSpan(this.merged, { start, end, speaker }, (last) => last.speaker === speaker);
    this.talk.set(speaker, (this.talk.get(speaker) ?? 0) + (end - start));
    if (alone) {
      const spans = this.clean.get(speaker) ?? [];
      this.clean.set(speaker, spans);
      appendSpan(spans, { start, end }, () => true);
    }
  }

  /** Time-ordered, non-overlapping turns. */
  turns(): readonly SpeakerSpan[] {
    return this.merged;
  }

  /** The speakers that talk somewhere, in order of their first turn. */
  speakers(): number[] {
    const seen = new Set<number>();
    for (const t of this.merged) seen.add(t.speaker);
    return [...seen];
  }

  cleanSpans(speaker: number): readonly Span[] {
    return this.clean.get(speaker) ?? [];
  }

  /** Samples in the speaker's turns. */
  talkSamples(speaker: number): number {
    return this.talk.get(speaker) ?? 0;
  }

  spansOf(speaker: number): Span[] {
    return this.merged.filter((t) => t.speaker === speaker);
  }
}

/** Appends a span, extending the last one instead where it touches and `same` says it may. */
function appendSpan<T extends Span>(spans: T[], span: T, same: (last: T) => boolean): void {
  const last = spans[spans.length - 1];
  if (last && last.end >= span.start && same(last)) last.end = Math.max(last.end, span.end);
  else spans.push(span);
}

/** Samples covered by spans, clipped to [from, to). */
export function spansWithin(spans: readonly Span[], from: number, to: number): Span[] {
  const out: Span[] = [];
  for (const s of spans) {
    const start = Math.max(s.start, from);
    const end = Math.min(s.end, to);
    if (end > start) out.push({ start, end });
  }
  return out;
}

export function totalLength(spans: readonly Span[]): number {
  return spans.reduce((n, s) => n + (s.end - s.start), 0);
}
