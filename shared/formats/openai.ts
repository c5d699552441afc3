import { WHISPER_LANGUAGES } from "../languages.ts";

/**
 * OpenAI's transcription answers (`/v1/audio/transcriptions|translations`), made
 * from this API's own verbose transcript, field for field as OpenAI writes them:
 * `language` as Whisper's lower-case name ("english"), `duration` in seconds,
 * segments with `id`, `seek` (the 10 ms frame the segment starts at), `tokens`
 * (empty: token ids are the model's business), words as `{ word, start, end }`.
 * `diarized_json` (OpenAI's shape for its diarizing model) carries the speakers.
 */
export const OPENAI_RESPONSE_FORMATS = ["json", "text", "srt", "verbose_json", "vtt", "diarized_json"] as const;
export type OpenAiResponseFormat = (typeof OPENAI_RESPONSE_FORMATS)[number];

export interface OurVerboseTranscript {
  text: string;
  language: string | null;
  audio_duration_sec: number | null;
  segments: Array<{
    start_sec: number;
    end_sec: number;
    text: string;
    avg_logprob: number;
    no_speech_prob: number;
    compression_ratio?: number;
    words?: Array<{ word: string; start_sec: number; end_sec: number }>;
    speaker?: string;
  }>;
}

export interface OpenAiSegment {
  id: number;
  seek: number;
  start: number;
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avg_logprob: number;
  compression_ratio: number;
  no_speech_prob: number;
}

export interface OpenAiVerbose {
  task: "transcribe" | "translate";
  language: string;
  duration: number;
  text: string;
  segments?: OpenAiSegment[];
  words?: Array<{ word: string; start: number; end: number }>;
}

export function openAiLanguage(code: string | null): string {
  if (code === null) return "unknown";
  return (WHISPER_LANGUAGES as Record<string, string>)[code] ?? code;
}

export function toOpenAiVerbose(t: OurVerboseTranscript, task: "transcribe" | "translate", granularities: { segment: boolean; word: boolean }): OpenAiVerbose {
  const out: OpenAiVerbose = {
    task,
    // A translation's text is English whatever was spoken, and OpenAI says so.
    language: task === "translate" ? "english" : openAiLanguage(t.language),
    duration: t.audio_duration_sec ?? t.segments.at(-1)?.end_sec ?? 0,
    text: t.text,
  };
  if (granularities.segment) {
    out.segments = t.segments.map((s, id) => ({
      id,
      seek: Math.round(s.start_sec * 100),
      start: s.start_sec,
      end: s.end_sec,
      // Whisper's segments start with the space that joins them.
      text: ` ${s.text}`,
      tokens: [],
      temperature: 0,
      avg_logprob: s.avg_logprob,
      compression_ratio: s.compression_ratio ?? 0,
      no_speech_prob: s.no_speech_prob,
    }));
  }
  if (granularities.word) {
    out.words = t.segments.flatMap((s) => (s.words ?? []).map((w) => ({ word: w.word.trim(), start: w.start_sec, end: w.end_sec })));
  }
  return out;
}

export interface OpenAiDiarized {
  task: "transcribe";
  duration: number;
  text: string;
  segments: Array<{ type: "transcript.text.segment"; id: string; start: number; end: number; text: string; speaker: string }>;
}

/** Segments with no speaker heard (a cough, a range whose machine found no voice) say "unknown", as the field is required. */
export function toOpenAiDiarized(t: OurVerboseTranscript): OpenAiDiarized {
  return {
    task: "transcribe",
    duration: t.audio_duration_sec ?? t.segments.at(-1)?.end_sec ?? 0,
    text: t.text,
    segments: t.segments.map((s, i) => ({
      type: "transcript.text.segment",
      id: `seg_${String(i).padStart(3, "0")}`,
      start: s.start_sec,
      end: s.end_sec,
      text: s.text,
      speaker: s.speaker ?? "unknown",
    })),
  };
}
