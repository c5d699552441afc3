/**
 * The CLI's expected failures. `main` alone turns them into one line on stderr
 * and an exit code; none of them is ever shown with a stack trace.
 */

/** Bad arguments: exit 2, with what to do and the usage text. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An API error body, or a job that ended failed or canceled: `error <code>: <message>`, exit 1. */
export class CodedError extends Error {
  override name = "CodedError";
  constructor(
    readonly code: string,
    message: string,
    /** What to do about it, printed on its own line. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** An error answer of the API; its status says whether trying again can help. */
export class ApiErrorAnswer extends CodedError {
  override name = "ApiErrorAnswer";
  constructor(
    readonly status: number,
    code: string,
    message: string,
    hint?: string,
    /** Retry-After, in ms, when the answer gave one. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(code, message, hint);
  }
}

/** The API did not answer at all. */
export class ApiUnreachable extends Error {
  override name = "ApiUnreachable";
  constructor(
    readonly api: string,
    readonly reason: string,
  ) {
    super(`cannot reach the API at ${api} (${reason}): is the stack running? start it with \`npm start\`, or pass --api URL`);
  }
}

/** The user pressed Ctrl-C while the CLI waited. */
export class Interrupted extends Error {
  override name = "Interrupted";
}
