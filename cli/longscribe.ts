import { existsSync, statSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { MAX_SPEAKERS, type SpeakerCounts, speakerCountProblem } from "../shared/api.ts";
import { isTranscriptFormat, TRANSCRIPT_FORMATS, type TranscriptFormat } from "../shared/formats/render.ts";
import { toWhisperLanguage } from "../shared/languages.ts";
import { ApiClient } from "./api-client.ts";
import { ApiUnreachable, CodedError, Interrupted, UsageError } from "./cli-errors.ts";
import { processIo, type CliIo } from "./cli-io.ts";
import { DEFAULT_API, resolveConnection, type Connection } from "./connection.ts";
import { follow } from "./follow-job.ts";
import { jobLines } from "./job-lines.ts";
import { isLiveFormat, LIVE_FORMATS } from "./live-output.ts";
import { transcribe } from "./transcribe-command.ts";

/** `longscribe`: a client of the public API v1 (bin/longscribe.mjs runs it). */
export const USAGE = `usage:
  longscribe transcribe <url|file> [--wait] [--format ${TRANSCRIPT_FORMATS.join("|")}] [--out FILE]
                        [--language auto|xx] [--diarize [--speakers N | --min-speakers N --max-speakers N]]
                        [--upload] [--api URL] [--key KEY]
  longscribe follow <id> [--format text|srt|vtt|jsonl] [--api URL] [--key KEY]
  longscribe status <id> [--json] [--api URL] [--key KEY]
  longscribe cancel <id> [--api URL] [--key KEY]

transcribe
  <url>          an http(s) URL the API can read with byte ranges
  <file>         a local file. Against a deployed API it is uploaded first, in parts, with a
                 progress line; if that stops (Ctrl-C, network), the same command run again
                 on the unchanged file sends only the missing parts. Against the local stack
                 (--api on 127.0.0.1/localhost) it is served from this computer while the job
                 runs, so the CLI always waits (as with --wait; Ctrl-C cancels the job)
  --upload       upload a local file even when --api is on loopback (e.g. a tunnel)
  --wait         follow the job until it ends, with its progress on stderr; text, srt and vtt
                 print to stdout as segments are transcribed, in time order (with no range redone,
                 what ends up printed is the final transcript; on a terminal, text comes a line
                 per segment); json, verbose_json and --out are written once the job is done
  --format F     the transcript's format with --wait (default: from --out's extension, else text)
  --out FILE     write the transcript to FILE instead of stdout
  --language L   the spoken language: auto (default) or a code such as en, de, zh
  --diarize      label who speaks when (S1, S2, … across the whole recording): text gets a line
                 per speaker turn ("S1: …"), srt a prefix, vtt voice tags, json a speaker field
  --speakers N   with --diarize: exactly N speakers (--min-speakers / --max-speakers: a range)

follow           a job's segments as they are transcribed, until it ends (exit 0 when completed,
                 1 with the job's error when failed or canceled); progress on stderr. A dropped
                 connection is resumed where it broke off
  --format F     text (default): a line per segment; srt, vtt: numbered cues; jsonl: a JSON object
                 per segment, in the order merged, and {"replace": {range_index, start_sec, end_sec}}
                 when a range is redone (drop the segments you hold that start in that span).
                 text, srt and vtt print in time order; when a redone range takes back lines already
                 printed, a note on stderr says so and its new lines print as they come (cue
                 numbers go on from the last printed)

every command
  --api URL      the API (default: $LONGSCRIBE_API, else ${DEFAULT_API})
  --key KEY      the API key (default: $LONGSCRIBE_API_KEY, else the first of API_KEYS in ./.dev.vars)`;

const COMMON = {
  api: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

const OPTIONS = {
  transcribe: {
    ...COMMON,
    wait: { type: "boolean" },
    format: { type: "string" },
    out: { type: "string" },
    language: { type: "string" },
    diarize: { type: "boolean" },
    speakers: { type: "string" },
    "min-speakers": { type: "string" },
    "max-speakers": { type: "string" },
    upload: { type: "boolean" },
  },
  follow: { ...COMMON, format: { type: "string" } },
  status: { ...COMMON, json: { type: "boolean" } },
  cancel: COMMON,
} as const satisfies Record<string, ParseArgsConfig["options"]>;

type Command = keyof typeof OPTIONS;

/** Runs one command line; resolves to the exit code and never throws for an expected failure. */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = { ...processIo(), ...io };
  try {
    return await run(argv, full);
  } catch (error) {
    return report(error, full);
  }
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    if (command === undefined) throw new UsageError("give a command: transcribe, follow, status or cancel");
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!isCommand(command)) throw new UsageError(`unknown command "${command}": use transcribe, follow, status or cancel`);
  const { values, positionals } = parse(rest, OPTIONS[command]);
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const target = positionals[0];
  if (target === undefined || positionals.length > 1) {
    throw new UsageError(command === "transcribe" ? "give exactly one media URL or file" : `give exactly one job id, as \`longscribe ${command} tr_…\``);
  }
  const str = (name: string) => {
    const value = values[name];
    return typeof value === "string" ? value : undefined;
  };

  // Resolved only after the arguments are checked, so a bad argument is reported before a missing key.
  const connect = () => {
    const conn = resolveConnection({ api: str("api"), key: str("key") }, io.env, io.cwd);
    return { api: new ApiClient(conn.api, conn.key), conn };
  };

  switch (command) {
    case "transcribe": {
      const request = transcribeRequest(target, values, str);
      const client = connect();
      return await withKeyHint(client.conn, () => transcribe(client.api, request, io));
    }
    case "follow": {
      const format = str("format") ?? "text";
      if (!isLiveFormat(format)) throw new UsageError(`--format must be one of ${LIVE_FORMATS.join(", ")}, not "${format}"`);
      const client = connect();
      return await withKeyHint(client.conn, () => follow(client.api, target, format, io));
    }
    case "status": {
      const client = connect();
      const job = await withKeyHint(client.conn, () => client.api.get(target));
      io.stdout.write(values.json ? `${JSON.stringify(job, null, 2)}\n` : `${jobLines(job).join("\n")}\n`);
      return 0;
    }
    case "cancel": {
      const client = connect();
      const job = await withKeyHint(client.conn, () => client.api.cancel(target));
      io.stdout.write(`${job.id} ${job.status}\n`);
      return 0;
    }
    default:
      return command satisfies never;
  }
}

function transcribeRequest(target: string, values: Record<string, unknown>, str: (name: string) => string | undefined) {
  const local = !/^https?:\/\//i.test(target);
  if (local && !(existsSync(target) && statSync(target).isFile())) {
    throw new UsageError(`${target} is neither an http(s) URL nor a file that exists`);
  }
  if (local && statSync(target).size === 0) throw new UsageError(`${target} is empty: give a recording`);
  if (!local && values.upload === true) throw new UsageError("--upload applies to a local file, not a URL");
  const out = str("out");
  if (out !== undefined && !existsSync(dirname(resolve(out)))) {
    // Found out now, not after a job of hours has finished.
    throw new UsageError(`--out ${out}: the folder ${dirname(resolve(out))} does not exist`);
  }
  const format = str("format");
  if (format !== undefined && !isTranscriptFormat(format)) throw new UsageError(`--format must be one of ${TRANSCRIPT_FORMATS.join(", ")}, not "${format}"`);
  const language = str("language");
  if (language !== undefined && language.toLowerCase() !== "auto" && toWhisperLanguage(language) === null) {
    throw new UsageError(`--language ${language} is not a language Whisper knows; use auto or a code such as en, de, zh`);
  }
  const speakers = speakerOptions(values, str);
  return {
    speakers,
    source: local ? resolve(target) : target,
    local,
    upload: values.upload === true,
    wait: values.wait === true,
    format: format ?? formatFromExtension(out) ?? "text",
    transcriptAsked: format !== undefined || out !== undefined,
    out,
    language,
  };
}

/** --diarize and its counts, checked here so a typo fails before any upload. */
function speakerOptions(values: Record<string, unknown>, str: (name: string) => string | undefined): SpeakerCounts | undefined {
  const counts: SpeakerCounts = {};
  for (const [flag, field] of [
    ["speakers", "num_speakers"],
    ["min-speakers", "min_speakers"],
    ["max-speakers", "max_speakers"],
  ] as const) {
    const raw = str(flag);
    if (raw === undefined) continue;
    if (values.diarize !== true) throw new UsageError(`--${flag} needs --diarize`);
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SPEAKERS) throw new UsageError(`--${flag} must be a whole number from 1 to ${MAX_SPEAKERS}, not "${raw}"`);
    counts[field] = n;
  }
  const problem = speakerCountProblem({ diarize: values.diarize === true, ...counts });
  if (problem)
    throw new UsageError(`--${problem.param === "num_speakers" ? "speakers" : problem.param.replace("_", "-")}: ${problem.message.replaceAll("_", "-")}`);
  return values.diarize === true ? counts : undefined;
}

const EXTENSION_FORMATS: Record<string, TranscriptFormat> = { ".srt": "srt", ".vtt": "vtt", ".txt": "text", ".json": "json" };

function formatFromExtension(out: string | undefined): TranscriptFormat | undefined {
  return out === undefined ? undefined : EXTENSION_FORMATS[extname(out).toLowerCase()];
}

/** A 401 says where the refused key came from (never the key itself). */
async function withKeyHint<T>(conn: Connection, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof CodedError && error.code === "unauthorized" && error.hint === undefined) {
      throw new CodedError(error.code, error.message, `the key came from ${conn.keySource}; pass the right one with --key or LONGSCRIBE_API_KEY`);
    }
    throw error;
  }
}

/** No option here is `multiple`, so every value is one string or boolean. */
function parse(args: string[], options: ParseArgsConfig["options"]): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    // parseArgs explains itself well ("Unknown option '--x'"); it only needs the usage beside it.
    if ((error as { code?: unknown }).code?.toString().startsWith("ERR_PARSE_ARGS")) throw new UsageError((error as Error).message);
    throw error;
  }
}

function report(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    io.stderr.write(`error: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (error instanceof CodedError) {
    io.stderr.write(`error ${error.code}: ${error.message}\n${error.hint ? `  ${error.hint}\n` : ""}`);
    return 1;
  }
  if (error instanceof ApiUnreachable) {
    io.stderr.write(`error: ${error.message}\n`);
    return 1;
  }
  if (error instanceof Interrupted) return 130;
  io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

function isCommand(name: string): name is Command {
  return Object.hasOwn(OPTIONS, name);
}

// `tsx cli/longscribe.ts …` runs it directly too.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runAsProgram();
}

/**
 * Ctrl-C stops a wait cleanly (a served local file's job is canceled, since
 * its file goes away) and pauses an upload, to be resumed by the same command.
 * Only those listen, so quit anyway if the CLI is still there a few seconds
 * later, or at once on a second Ctrl-C.
 */
export async function runAsProgram(): Promise<void> {
  const interrupt = new AbortController();
  process.on("SIGINT", () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
    setTimeout(() => process.exit(130), 5000).unref();
  });
  process.exitCode = await main(process.argv.slice(2), processIo(interrupt.signal));
}
