import { assertNever } from "../shared/assert-never.ts";
import { srtCue, textPiece, VTT_HEADER, vttCue } from "../shared/formats/render.ts";
import type { LiveChange, LiveSegment, LiveTranscript } from "../shared/live-transcript.ts";
import { clock } from "./progress-line.ts";

export const LIVE_FORMATS = ["text", "srt", "vtt", "jsonl"] as const;
export type LiveFormat = (typeof LIVE_FORMATS)[number];

export function isLiveFormat(value: string): value is LiveFormat {
  return (LIVE_FORMATS as readonly string[]).includes(value);
}

export interface LiveOutputOptions {
  format: LiveFormat;
  /** text: a line per segment (for people and line-reading tools) rather than the transcript's single line. */
  textLines: boolean;
  /** stdout. */
  write(text: string): void;
  /** A line on stderr. */
  note(text: string): void;
}

/**
 * Prints a live transcript (shared/live-transcript.ts) as it grows. jsonl
 * prints every segment and replacement the moment it comes. text, srt and vtt
 * print in time order, so that at the end of a job with no redone range the
 * output is the transcript route's: segments wait for the progress event
 * that follows their merge, and print once it shows a single range at work
 * and never several (ranges are handed out in order, so all before it are
 * done). With several machines on one job, ranges are merged side by side
 * and their segments wait for a moment with none at work, or the end.
 */
export class LiveOutput {
  private readonly printed = new Set<LiveSegment>();
  /** Every segment before this index is printed. */
  private scanFrom = 0;
  private cues = 0;
  private firstPiece = true;
  private lastSpeaker: string | undefined;
  private parallel = false;
  private started = false;
  /** Printed segments that a redone range took back. */
  replacedPrinted = 0;

  constructor(
    readonly model: LiveTranscript,
    private readonly opts: LiveOutputOptions,
  ) {}

  /** Each change the model reports, in order. */
  change(c: LiveChange): void {
    switch (c.kind) {
      case "added":
        if (this.opts.format === "jsonl") for (const { segment } of c.added) this.line(JSON.stringify(segment));
        for (const { at } of c.added) this.scanFrom = Math.min(this.scanFrom, at);
        return;
      case "removed": {
        this.scanFrom = Math.min(this.scanFrom, c.at);
        if (this.opts.format === "jsonl") this.line(JSON.stringify({ replace: c.span }));
        this.took(c.removed, `range ${c.span.range_index} (${clock(c.span.start_sec)}–${clock(c.span.end_sec)}) is being redone`);
        return;
      }
      case "progress":
        if (c.progress.ranges_active > 1) this.parallel = true;
        if (c.progress.ranges_active === 0 || !this.parallel) this.flush();
        return;
      case "status":
        return;
      default:
        assertNever(c);
    }
  }

  /** What `LiveTranscript.reconcile` changed (the transcript fetched whole). */
  reconciled(change: { added: LiveSegment[]; removed: LiveSegment[] }): void {
    this.scanFrom = 0;
    if (this.opts.format === "jsonl") for (const s of change.added) this.line(JSON.stringify(s));
    this.took(change.removed, "the transcript changed while the stream was away");
  }

  /** The job ended: whatever is held, then the text's line end. */
  finish(): void {
    this.flush();
    this.start();
    if (this.opts.format === "text" && !this.opts.textLines) this.opts.write("\n");
  }

  /** Prints, in time order, what the model holds that is not printed yet. */
  private flush(): void {
    this.start();
    if (this.opts.format === "jsonl") return;
    const segments = this.model.segments;
    let out = "";
    for (let i = this.scanFrom; i < segments.length; i++) {
      const s = segments[i]!;
      if (this.printed.has(s)) continue;
      this.printed.add(s);
      out += this.render(s);
    }
    this.scanFrom = segments.length;
    if (out) this.opts.write(out);
  }

  private render(s: LiveSegment): string {
    switch (this.opts.format) {
      case "srt":
        return srtCue(++this.cues, s);
      case "vtt":
        return vttCue(++this.cues, s);
      case "text": {
        if (this.opts.textLines) return s.text.trim() ? `${s.speaker !== undefined ? `${s.speaker}: ` : ""}${s.text.trim()}\n` : "";
        const piece = textPiece(s, this.firstPiece, this.lastSpeaker);
        if (piece) {
          this.firstPiece = false;
          this.lastSpeaker = s.speaker;
        }
        return piece;
      }
      case "jsonl":
        return "";
      default:
        return this.opts.format satisfies never;
    }
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    if (this.opts.format === "vtt") this.opts.write(VTT_HEADER);
  }

  private took(removed: LiveSegment[], why: string): void {
    const printed = removed.filter((s) => this.printed.delete(s)).length;
    if (printed === 0) return;
    this.replacedPrinted += printed;
    const numbering = this.opts.format === "srt" || this.opts.format === "vtt" ? "; cue numbers go on from the last printed" : "";
    const what = printed === 1 ? "1 segment printed above is" : `${printed} segments printed above are`;
    this.opts.note(`note: ${why}: ${what} taken back; what replaces it prints as it comes${numbering}`);
  }

  private line(text: string): void {
    this.opts.write(`${text}\n`);
  }
}
