import type { JobStatus } from "../shared/api.ts";
import { followEventStream, type OpenFailure } from "../shared/live-stream.ts";
import { type JobError, type LiveSegment, LiveTranscript } from "../shared/live-transcript.ts";
import { sleep } from "../shared/sleep.ts";
import { type ApiClient, NoEventStream } from "./api-client.ts";
import { ApiErrorAnswer, ApiUnreachable, CodedError, Interrupted } from "./cli-errors.ts";
import type { CliIo } from "./cli-io.ts";
import { LiveOutput, type LiveFormat } from "./live-output.ts";
import { ProgressDisplay } from "./progress-display.ts";
import { waitForJob } from "./wait-for-job.ts";

export interface JobEnd {
  status: JobStatus;
  error?: JobError | undefined;
}

/**
 * Follows the job's live events, printing through `output` as segments come
 * and showing progress on `display`, until the job ends; a dropped stream is
 * resumed from its last event id. Null when the API has no event stream (an
 * older one): the caller waits by polling instead.
 */
export async function followJob(client: ApiClient, id: string, output: LiveOutput, display: ProgressDisplay, io: CliIo): Promise<JobEnd | null> {
  const model = output.model;
  let outcome: Awaited<ReturnType<typeof followEventStream>>;
  try {
    outcome = await followEventStream({
      open: (lastEventId, signal) => client.events(id, lastEventId, signal),
      classify,
      onEvent: (e) => {
        for (const change of model.apply(e)) {
          output.change(change);
          if ((change.kind === "progress" || change.kind === "status") && model.status && model.progress) {
            display.show({ status: model.status, progress: model.progress });
          }
        }
      },
      onDrop: () => model.dropPending(),
      signal: io.signal,
      // pollMs is the CLI's pace against this API (tests make it small).
      backoff: { baseMs: io.pollMs, capMs: 30 * io.pollMs },
      sleep,
    });
  } finally {
    display.finish();
  }
  switch (outcome.kind) {
    case "aborted":
      throw new Interrupted("interrupted");
    case "unavailable":
      return null;
    case "ended":
      if (outcome.backlogMissing) {
        // The stream gave only the end: what merged since the last id is read whole.
        await catchUp(client, id, outcome.status, output);
      }
      output.finish();
      return { status: outcome.status, error: model.error };
    default:
      return outcome satisfies never;
  }
}

/** The transcript read whole, as it stands at the job's end; a job that failed before any merge has none to read. */
async function catchUp(client: ApiClient, id: string, status: JobStatus, output: LiveOutput): Promise<void> {
  let segments: LiveSegment[];
  try {
    segments = (await client.transcriptJson(id, status !== "completed")).segments;
  } catch (error) {
    if (status === "completed") throw error;
    return;
  }
  output.reconciled(output.model.reconcile(segments));
}

function classify(error: unknown): OpenFailure {
  if (error instanceof NoEventStream) return "unavailable";
  if (error instanceof ApiErrorAnswer) {
    // 404 also answers for a job that does not exist: polling then says so.
    if (error.status === 404 || error.status === 405 || error.status === 501) return "unavailable";
    return error.status === 429 || error.status >= 500 ? "retry" : "fatal";
  }
  return error instanceof ApiUnreachable ? "retry" : "fatal";
}

/** A job that ended otherwise than completed is the command's failure, in the job's own words. */
export function failureOf(end: JobEnd): CodedError | null {
  if (end.status === "completed") return null;
  return new CodedError(end.error?.code ?? end.status, end.error?.message ?? `the job ended ${end.status}`);
}

/** `longscribe follow <id>`: the job's segments as they are merged, until it ends. */
export async function follow(client: ApiClient, id: string, format: LiveFormat, io: CliIo): Promise<number> {
  const display = new ProgressDisplay({ write: (text) => io.stderr.write(text), isTTY: io.isTTY, columns: io.columns });
  const output = new LiveOutput(new LiveTranscript(), {
    format,
    textLines: true,
    write: (text) => display.around(() => io.stdout.write(text)),
    note: (text) => display.around(() => io.stderr.write(`${text}\n`)),
  });
  let end: JobEnd | null;
  try {
    end = await followJob(client, id, output, display, io);
    if (end === null) {
      // No event stream: wait for the end, then print the transcript at once.
      const job = await waitForJob(client, id, { pollMs: io.pollMs, display, signal: io.signal });
      await catchUp(client, id, job.status, output);
      output.finish();
      end = { status: job.status, error: job.error };
    }
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error;
    io.stderr.write(`stopped following; ${id} keeps running: \`longscribe status ${id}\` to check, \`longscribe cancel ${id}\` to stop it\n`);
    return 130;
  }
  const failure = failureOf(end);
  if (failure) throw failure;
  return 0;
}
