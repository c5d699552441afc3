import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeWhole, generated, MEDIA_CACHE } from "./media-files.ts";
import { readJsonl, sharedPath } from "./shared-data.ts";

/** LibriSpeech test-other: its readers 2033 and 3080 take turns in the two-voice conversations. */
export const TWO_VOICES_SET = "data/speech/librispeech-test-other";
const RATE = 16_000;
const GAP_SEC = 0.6;

export interface Turn {
  voice: string;
  start: number;
  end: number;
}

/**
 * Two LibriSpeech readers taking turns, a whole clip each, 0.6 s apart, for
 * `clipsPerVoice` turns each (7 make about two minutes): a conversation whose
 * true speaker turns are known.
 */
export async function twoVoices(clipsPerVoice: number): Promise<{ file: string; turns: Turn[] }> {
  const clips = readJsonl<{ audio: string }>(sharedPath(TWO_VOICES_SET, "manifest.jsonl")).map((c) => c.audio);
  const of = (speaker: string) => clips.filter((c) => c.startsWith(`${speaker}-`)).slice(0, clipsPerVoice);
  const [a, b] = [of("2033"), of("3080")];
  const pieces: Float32Array[] = [];
  const turns: Turn[] = [];
  let at = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    for (const [voice, clip] of [
      ["2033", a[i]!],
      ["3080", b[i]!],
    ] as const) {
      const samples = await decodeWhole(sharedPath(TWO_VOICES_SET, clip));
      pieces.push(samples, new Float32Array(Math.round(GAP_SEC * RATE)));
      turns.push({ voice, start: at / RATE, end: (at + samples.length) / RATE });
      at += samples.length + Math.round(GAP_SEC * RATE);
    }
  }
  const all = new Float32Array(at);
  let offset = 0;
  for (const p of pieces) {
    all.set(p, offset);
    offset += p.length;
  }
  const raw = join(MEDIA_CACHE, `two-voices-${clipsPerVoice}.f32`);
  writeFileSync(raw, Buffer.from(all.buffer));
  const file = await generated(`two-voices-${clipsPerVoice}.wav`, (o) => ["-f", "f32le", "-ar", String(RATE), "-ac", "1", "-i", raw, "-c:a", "pcm_s16le", o]);
  return { file, turns };
}

/** The reference voice that speaks most inside [start, end]. */
export function voiceAt(turns: readonly Turn[], start: number, end: number): string | null {
  let best: { voice: string; overlap: number } | null = null;
  for (const t of turns) {
    const overlap = Math.min(end, t.end) - Math.max(start, t.start);
    if (overlap > 0 && (best === null || overlap > best.overlap)) best = { voice: t.voice, overlap };
  }
  return best?.voice ?? null;
}

/**
 * How the labels stand for the voices: each label is taken for the voice it is
 * most often heard as, and the share of labelled time that then is right.
 */
export function labelAccuracy(
  turns: readonly Turn[],
  segments: ReadonlyArray<{ start_sec: number; end_sec: number; speaker?: string | undefined }>,
): { mapping: Map<string, string>; right: number; report: string } {
  const votes = new Map<string, Map<string, number>>();
  for (const s of segments) {
    const voice = voiceAt(turns, s.start_sec, s.end_sec);
    if (voice === null || s.speaker === undefined) continue;
    const v = votes.get(s.speaker) ?? new Map<string, number>();
    v.set(voice, (v.get(voice) ?? 0) + s.end_sec - s.start_sec);
    votes.set(s.speaker, v);
  }
  const mapping = new Map([...votes].map(([label, v]) => [label, [...v].sort((x, y) => y[1] - x[1])[0]![0]]));
  let right = 0;
  let total = 0;
  for (const s of segments) {
    if (s.speaker === undefined) continue;
    const voice = voiceAt(turns, s.start_sec, s.end_sec);
    total += s.end_sec - s.start_sec;
    if (voice !== null && mapping.get(s.speaker) === voice) right += s.end_sec - s.start_sec;
  }
  return { mapping, right: total > 0 ? right / total : 0, report: `labels ${JSON.stringify([...votes].map(([l, v]) => [l, [...v]]))}` };
}
