import { assertNever } from "../assert-never.ts";
import { joinsWithoutSpace, toBcp47 } from "../languages.ts";
import type { Segment } from "../segment.ts";
import { srtCueText, vttCueText } from "./cue-text.ts";
import { formatTimestamp } from "./timestamp.ts";

export const TRANSCRIPT_FORMATS = ["json", "verbose_json", "text", "srt", "vtt"] as const;
export type TranscriptFormat = (typeof TRANSCRIPT_FORMATS)[number];

export function isTranscriptFormat(value: string): value is TranscriptFormat {
  return (TRANSCRIPT_FORMATS as readonly string[]).includes(value);
}

export interface TranscriptMeta {
  language: string | null;
  audio_duration_sec: number | null;
  /** Only verbose_json shows it. */
  usage?: unknown;
}

/**
 * Yields the segments in transcript order. Called once per pass: the JSON
 * formats read the segments twice (text first, then the list) so that a
 * 24-hour transcript streams without being held in memory.
 */
export type SegmentSource = () => AsyncIterable<Segment>;

export const CONTENT_TYPES: Record<TranscriptFormat, string> = {
  json: "application/json; charset=utf-8",
  verbose_json: "application/json; charset=utf-8",
  text: "text/plain; charset=utf-8",
  srt: "application/x-subrip; charset=utf-8",
  vtt: "text/vtt; charset=utf-8",
};

export const FILE_EXTENSIONS: Record<TranscriptFormat, string> = {
  json: "json",
  verbose_json: "json",
  text: "txt",
  srt: "srt",
  vtt: "vtt",
};

export function renderTranscript(format: TranscriptFormat, meta: TranscriptMeta, source: SegmentSource): AsyncIterable<string> {
  switch (format) {
    case "json":
      return renderJson(meta, source, false);
    case "verbose_json":
      return renderJson(meta, source, true);
    case "text":
      return renderText(source);
    case "srt":
      return renderSrt(source);
    case "vtt":
      return renderVtt(source);
    default:
      return assertNever(format);
  }
}

/** Plain text: segments joined by a space, except in scripts written without spaces. */
async function* joinedText(source: SegmentSource): AsyncGenerator<string> {
  let first = true;
  for await (const s of source()) {
    const piece = textPiece(s, first);
    if (piece === "") continue;
    yield piece;
    first = false;
  }
}

/**
 * A segment's piece of the plain text ("" when it has none): what follows the
 * pieces before it, so that a client printing segments as they come (the
 * CLI) writes the same text as this route.
 */
export function textPiece(s: Pick<Segment, "text" | "language">, first: boolean): string {
  const text = s.text.trim();
  if (text.length === 0) return "";
  return first || joinsWithoutSpace(s.language) ? text : ` ${text}`;
}

type CueSegment = Pick<Segment, "start_sec" | "end_sec" | "text">;

export const VTT_HEADER = "WEBVTT\n\n";

export function srtCue(n: number, s: CueSegment): string {
  return `${n}\n${formatTimestamp(s.start_sec, ",")} --> ${formatTimestamp(s.end_sec, ",")}\n${srtCueText(s.text)}\n\n`;
}

export function vttCue(n: number, s: CueSegment): string {
  return `${n}\n${formatTimestamp(s.start_sec, ".")} --> ${formatTimestamp(s.end_sec, ".")}\n${vttCueText(s.text)}\n\n`;
}

async function* renderText(source: SegmentSource): AsyncGenerator<string> {
  yield* joinedText(source);
  yield "\n";
}

async function* renderSrt(source: SegmentSource): AsyncGenerator<string> {
  let n = 0;
  for await (const s of source()) yield srtCue(++n, s);
}

async function* renderVtt(source: SegmentSource): AsyncGenerator<string> {
  yield VTT_HEADER;
  let n = 0;
  for await (const s of source()) yield vttCue(++n, s);
}

/** A JSON string's body without the surrounding quotes, so text can be streamed piecewise. */
function jsonStringBody(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

export function segmentJson(s: Segment, verbose: boolean): Record<string, unknown> {
  const base = {
    start_sec: round3(s.start_sec),
    end_sec: round3(s.end_sec),
    text: s.text.trim(),
    language: s.language,
    bcp47: toBcp47(s.language),
  };
  if (!verbose) return base;
  return {
    ...base,
    avg_logprob: s.avg_logprob,
    no_speech_prob: s.no_speech_prob,
    ...(s.compression_ratio !== undefined ? { compression_ratio: s.compression_ratio } : {}),
    ...(s.words ? { words: s.words } : {}),
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function* renderJson(meta: TranscriptMeta, source: SegmentSource, verbose: boolean): AsyncGenerator<string> {
  yield '{"text":"';
  for await (const piece of joinedText(source)) yield jsonStringBody(piece);
  yield `","language":${JSON.stringify(meta.language)},"segments":[`;
  let first = true;
  for await (const s of source()) {
    yield (first ? "" : ",") + JSON.stringify(segmentJson(s, verbose));
    first = false;
  }
  yield `],"audio_duration_sec":${JSON.stringify(meta.audio_duration_sec)}`;
  if (verbose) yield `,"usage":${JSON.stringify(meta.usage ?? null)}`;
  yield "}\n";
}
