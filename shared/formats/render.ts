import { assertNever } from "../assert-never.ts";
import { joinsWithoutSpace, toBcp47 } from "../languages.ts";
import type { SpeakerSummary } from "../api.ts";
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
  /** A diarized job's speakers; only verbose_json lists them. */
  speakers?: readonly SpeakerSummary[];
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

/**
 * Plain text: segments joined by a space, except in scripts written without
 * spaces. With `speakers`, each speaker's turn starts a line with its label
 * ("S1: …"); the JSON formats' `text` stays the words alone.
 */
async function* joinedText(source: SegmentSource, speakers: boolean): AsyncGenerator<string> {
  let first = true;
  let speaker: string | undefined;
  for await (const s of source()) {
    const piece = speakers ? textPiece(s, first, speaker) : textPiece({ text: s.text, language: s.language }, first);
    if (piece === "") continue;
    yield piece;
    first = false;
    speaker = s.speaker;
  }
}

/**
 * A segment's piece of the plain text ("" when it has none): what follows the
 * pieces before it, so that a client printing segments as they come (the
 * CLI) writes the same text as this route. A labelled segment whose speaker
 * differs from the previous piece's starts a new line with its label.
 */
export function textPiece(s: Pick<Segment, "text" | "language" | "speaker">, first: boolean, previousSpeaker?: string): string {
  const text = s.text.trim();
  if (text.length === 0) return "";
  if (s.speaker !== undefined && s.speaker !== previousSpeaker) return `${first ? "" : "\n"}${s.speaker}: ${text}`;
  return first || joinsWithoutSpace(s.language) ? text : ` ${text}`;
}

type CueSegment = Pick<Segment, "start_sec" | "end_sec" | "text" | "speaker">;

export const VTT_HEADER = "WEBVTT\n\n";

/** A labelled cue starts with its speaker ("S1: …"), as most subtitle tools show a speaker in SRT. */
export function srtCue(n: number, s: CueSegment): string {
  const label = s.speaker !== undefined ? `${s.speaker}: ` : "";
  return `${n}\n${formatTimestamp(s.start_sec, ",")} --> ${formatTimestamp(s.end_sec, ",")}\n${label}${srtCueText(s.text)}\n\n`;
}

/** A labelled cue is a WebVTT voice span (`<v S1>…`), which players show and style per speaker. */
export function vttCue(n: number, s: CueSegment): string {
  const voice = s.speaker !== undefined ? `<v ${vttCueText(s.speaker)}>` : "";
  return `${n}\n${formatTimestamp(s.start_sec, ".")} --> ${formatTimestamp(s.end_sec, ".")}\n${voice}${vttCueText(s.text)}\n\n`;
}

async function* renderText(source: SegmentSource): AsyncGenerator<string> {
  yield* joinedText(source, true);
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
    ...(s.speaker !== undefined ? { speaker: s.speaker } : {}),
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
  for await (const piece of joinedText(source, false)) yield jsonStringBody(piece);
  yield `","language":${JSON.stringify(meta.language)},"segments":[`;
  let first = true;
  for await (const s of source()) {
    yield (first ? "" : ",") + JSON.stringify(segmentJson(s, verbose));
    first = false;
  }
  yield `],"audio_duration_sec":${JSON.stringify(meta.audio_duration_sec)}`;
  if (verbose) yield `,"usage":${JSON.stringify(meta.usage ?? null)}`;
  if (verbose && meta.speakers) yield `,"speakers":${JSON.stringify(meta.speakers)}`;
  yield "}\n";
}
