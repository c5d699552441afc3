/** Everything the CLI takes from its process, so tests can run `main` in-process. */
export interface CliIo {
  /** A terminal (`isTTY`) gets streamed text a line per segment. */
  stdout: { write(text: string): unknown; isTTY?: boolean | undefined };
  stderr: { write(text: string): unknown };
  /** stderr is a terminal: progress is one bar redrawn in place. */
  isTTY: boolean;
  columns: number;
  env: Record<string, string | undefined>;
  /** Where ./.dev.vars is looked for. */
  cwd: string;
  pollMs: number;
  /** Aborted on Ctrl-C: stop waiting and say what became of the job. */
  signal: AbortSignal | undefined;
}

export function processIo(signal?: AbortSignal): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: process.stderr.isTTY === true,
    columns: process.stderr.columns ?? 80,
    env: process.env,
    cwd: process.cwd(),
    pollMs: 1000,
    signal,
  };
}
