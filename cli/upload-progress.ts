import { bar, clock, fitLine, MAX_BAR, MIN_BAR } from "./progress-line.ts";
import type { ProgressOutput } from "./progress-display.ts";

/** What one upload progress line shows. */
export interface UploadView {
  sentBytes: number;
  totalBytes: number;
  /** Bytes per second sent in this run; undefined until it can be measured. */
  bytesPerSec: number | undefined;
}

/** "12.3 MB", or GB from 10 GB on; decimal units, as network speeds are given. */
export function byteSize(bytes: number): string {
  return bytes >= 10e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

export function uploadPercent(view: UploadView): number {
  return view.totalBytes > 0 ? Math.min(100, (100 * view.sentBytes) / view.totalBytes) : 100;
}

function details(view: UploadView): string[] {
  const rate = view.bytesPerSec;
  const eta = rate ? Math.max(0, view.totalBytes - view.sentBytes) / rate : undefined;
  return [
    `${byteSize(view.sentBytes)} / ${byteSize(view.totalBytes)} (${uploadPercent(view).toFixed(1)}%)`,
    rate === undefined ? "-- MB/s" : `${(rate / 1e6).toFixed(1)} MB/s`,
    `ETA ${eta === undefined ? "--:--" : clock(eta)}`,
  ];
}

/** For logs and pipes: no bar, no carriage return. */
export function uploadPlainLine(view: UploadView): string {
  return `uploading ${details(view).join(", ")}`;
}

/** The TTY line, redrawn in place, never wider than the terminal. */
export function uploadBar(view: UploadView, columns: number): string {
  const tail = ` ${details(view).join("  ")}`;
  const width = Math.max(MIN_BAR, Math.min(MAX_BAR, columns - 1 - "uploading ".length - 2 - tail.length));
  return fitLine(`uploading ${bar(uploadPercent(view), width)}${tail}`, columns);
}

/** Redraws on a terminal at most this often; each slice sent would be far too many. */
const REDRAW_MS = 200;
/** Without a terminal, one line per this many percent. */
const PLAIN_STEP_PCT = 10;

/** Shows an upload's bytes as they go, on stderr: a live bar on a terminal, a line every 10 % elsewhere. */
export class UploadProgress {
  private sent: number;
  private readonly startedAt: number;
  private readonly startBytes: number;
  private drawnAt = -Infinity;
  private drawn = false;
  private lastStep: number;

  constructor(
    private readonly out: ProgressOutput,
    private readonly totalBytes: number,
    /** Bytes the server already holds from an earlier run: counted as sent, not in the rate. */
    alreadySent: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sent = alreadySent;
    this.startBytes = alreadySent;
    this.startedAt = now();
    this.lastStep = Math.floor(uploadPercent(this.view()) / PLAIN_STEP_PCT);
    this.draw(true);
  }

  get sentBytes(): number {
    return this.sent;
  }

  /** Bytes sent (or, negative, taken back when a part failed and will be sent again). */
  add(bytes: number): void {
    this.sent += bytes;
    // The last redraw is never skipped: the line must end at 100 %.
    this.draw(this.out.isTTY && this.sent >= this.totalBytes);
  }

  /** Ends the redrawn line so that what follows starts on its own. */
  finish(): void {
    if (this.drawn) {
      this.out.write(`\r${uploadBar(this.view(), this.out.columns)}\x1b[K\n`);
      this.drawn = false;
    }
  }

  view(): UploadView {
    const elapsedSec = (this.now() - this.startedAt) / 1000;
    const sentNow = this.sent - this.startBytes;
    return {
      sentBytes: this.sent,
      totalBytes: this.totalBytes,
      // Not from the first instants, when it would swing wildly; but the last line always has one.
      bytesPerSec: sentNow > 0 && elapsedSec > 0 && (elapsedSec >= 0.5 || this.sent >= this.totalBytes) ? sentNow / elapsedSec : undefined,
    };
  }

  private draw(force: boolean): void {
    const view = this.view();
    if (this.out.isTTY) {
      const at = this.now();
      if (!force && at - this.drawnAt < REDRAW_MS) return;
      this.drawnAt = at;
      this.out.write(`\r${uploadBar(view, this.out.columns)}\x1b[K`);
      this.drawn = true;
      return;
    }
    const step = Math.floor(uploadPercent(view) / PLAIN_STEP_PCT);
    if (!force && step <= this.lastStep) return;
    this.lastStep = step;
    this.out.write(`${uploadPlainLine(view)}\n`);
  }
}
