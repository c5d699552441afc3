import type { TranscriptionJob } from "../shared/api.ts";
import { changeKey, estimateEtaSec, plainLine, progressBar, type ProgressSample, type ProgressView } from "./progress-line.ts";

export interface ProgressOutput {
  write(text: string): unknown;
  /** A terminal gets one line redrawn in place; anything else gets a line per change. */
  isTTY: boolean;
  columns: number;
}

/** Shows each poll of a job on stderr, as a live bar on a terminal or plain lines elsewhere. */
export class ProgressDisplay {
  private first: ProgressSample | undefined;
  private lastKey = "";
  private drawn = false;
  /** The bar last drawn, to draw again after other output. */
  private line = "";

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
  ) {}

  show(job: Pick<TranscriptionJob, "status" | "progress">): void {
    const view = this.view(job);
    if (this.out.isTTY) {
      // \x1b[K clears what a longer previous line left behind.
      this.line = `\r${progressBar(view, this.out.columns)}\x1b[K`;
      this.out.write(this.line);
      this.drawn = true;
      return;
    }
    const key = changeKey(view);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.out.write(`${plainLine(view)}\n`);
  }

  /**
   * Runs `print` (lines on stdout, the same terminal) with the bar cleared
   * first and drawn again after, so that the lines scroll up above it.
   */
  around(print: () => void): void {
    if (!this.drawn) {
      print();
      return;
    }
    this.out.write("\r\x1b[K");
    print();
    this.out.write(this.line);
  }

  /** Ends the redrawn line so that what follows starts on its own. */
  finish(): void {
    if (this.drawn) this.out.write("\n");
    this.drawn = false;
  }

  private view(job: Pick<TranscriptionJob, "status" | "progress">): ProgressView {
    const latest = { atMs: this.now(), doneSec: job.progress.audio_sec_done };
    // The rate is measured from the first poll that saw work running, not
    // from the queue wait before it.
    if (job.status === "running" && !this.first) this.first = latest;
    return { status: job.status, progress: job.progress, etaSec: job.status === "running" ? estimateEtaSec(job.progress, this.first, latest) : undefined };
  }
}
