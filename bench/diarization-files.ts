import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SpeakerTurn } from "../gpu-machine/eval/der.ts";
import { resolveBinaries } from "../gpu-machine/media/ffmpeg-binaries.ts";
import { decodeWhole } from "../test/support/media-files.ts";
import { REPO_ROOT, sharedPath } from "../test/support/shared-data.ts";
import { mulberry32 } from "../shared/mulberry32.ts";

/**
 * Constructed conversations with known turns, for `npm run bench:diarization`:
 *
 *   npx tsx bench/diarization-files.ts [name …] [--force]
 *
 * Each voice is one reader of the team's English speech (../shared/data/speech):
 * a LibriSpeech speaker (the file name's prefix), LJSpeech, the Earnings-22
 * caller, the LibriVox sonnet reader. A conversation alternates its voices in
 * turns of 2–40 s (log-uniform), each cut from the voice's clips (joined in a
 * seeded order, looping when used up) at the quietest 20 ms near the wanted
 * length, with a pause of 0.2–1.2 s or, one time in five, an overlap of
 * 0.2–1 s between turns. Voices are levelled to one speech loudness so that
 * loudness alone tells nobody apart.
 *
 * The reference (<name>.rttm) is where each turn's voice really speaks: an
 * energy detector on the clean clip (pauses over 0.3 s are not speech), so a
 * reader's pauses inside a turn are not scored as missed speech.
 *
 * Files named tune-* use voices that the held-* files never use: thresholds are
 * chosen on tune-*, and reported on held-*. Output: .tmp/diarization/<name>.{wav,rttm,json}.
 */
export const OUT_DIR = join(REPO_ROOT, ".tmp", "diarization");
const SAMPLE_RATE = 16_000;

/** Voice → its clips under shared/data/speech. */
const LIBRISPEECH_OTHER = "data/speech/librispeech-test-other";
function librispeech(speaker: string): string[] {
  const manifest = readFileSync(sharedPath(LIBRISPEECH_OTHER, "manifest.jsonl"), "utf8");
  return [...manifest.matchAll(/"audio": "([^"]+)"/g)]
    .map((m) => m[1]!)
    .filter((f) => f.startsWith(`${speaker}-`))
    .map((f) => `${LIBRISPEECH_OTHER}/${f}`);
}
const VOICES: Record<string, () => string[]> = {
  ls1688: () => librispeech("1688"),
  ls2033: () => librispeech("2033"),
  ls2414: () => librispeech("2414"),
  ls2609: () => librispeech("2609"),
  ls3080: () => librispeech("3080"),
  ls3331: () => librispeech("3331"),
  ls367: () => librispeech("367"),
  lj: () => Array.from({ length: 22 }, (_, i) => `data/speech/ljspeech/LJ001-${String(i + 1).padStart(4, "0")}.flac`),
  earnings: () => ["data/speech/earnings22/earnings22_1_4482311_3_62.flac"],
  sonnets: () => ["data/speech/librivox/shakespeare_sonnet_p001.mp3", "data/speech/librivox/shakespeare_sonnet_p002.mp3"],
};

export interface ConversationSpec {
  name: string;
  voices: string[];
  minutes: number;
  seed: number;
  /** A voice that says nothing from `fromSec` to `toSec`. */
  absent?: { voice: string; fromSec: number; toSec: number };
}

export const CONVERSATIONS: ConversationSpec[] = [
  { name: "tune-2spk-4min", voices: ["ls1688", "lj"], minutes: 4, seed: 11 },
  { name: "tune-3spk-7min", voices: ["ls2033", "ls2414", "lj"], minutes: 7, seed: 12 },
  { name: "tune-4spk-12min", voices: ["ls1688", "ls2033", "ls2414", "lj"], minutes: 12, seed: 13 },
  // More of the same voices in other orders and turns: three files could not tell
  // settings apart that differed by 7-10 DER points on the held files.
  { name: "tune-2spk-b-5min", voices: ["ls2033", "ls2414"], minutes: 5, seed: 14 },
  { name: "tune-3spk-b-8min", voices: ["lj", "ls1688", "ls2414"], minutes: 8, seed: 15 },
  { name: "tune-4spk-b-10min", voices: ["ls2414", "lj", "ls2033", "ls1688"], minutes: 10, seed: 16 },
  { name: "held-2spk-5min", voices: ["ls3080", "ls367"], minutes: 5, seed: 21 },
  { name: "held-3spk-8min", voices: ["ls2609", "ls3331", "earnings"], minutes: 8, seed: 22 },
  { name: "held-4spk-10min", voices: ["ls2609", "ls3080", "ls3331", "ls367"], minutes: 10, seed: 23 },
  { name: "held-4spk-30min", voices: ["ls3080", "ls367", "sonnets", "earnings"], minutes: 30, seed: 24 },
  { name: "held-return-3spk-16min", voices: ["ls3331", "ls2609", "sonnets"], minutes: 16, seed: 25, absent: { voice: "ls3331", fromSec: 180, toSec: 840 } },
];

export interface Conversation {
  spec: ConversationSpec;
  wav: string;
  /** Where each voice speaks (seconds). */
  reference: SpeakerTurn[];
  durationSec: number;
}

const FRAME = 160;
function frameDb(audio: Float32Array, f: number): number {
  let sum = 0;
  for (let i = f * FRAME; i < (f + 1) * FRAME && i < audio.length; i++) sum += audio[i]! * audio[i]!;
  return 10 * Math.log10(sum / FRAME + 1e-12);
}

/** A percentile of a recording's 10 ms frame energies, in dB: the 90th is its speech level, the 10th its noise floor. */
function levelDb(audio: Float32Array, quantile: number): number {
  const frames = Array.from({ length: Math.floor(audio.length / FRAME) }, (_, f) => frameDb(audio, f)).sort((a, b) => a - b);
  return frames[Math.floor(frames.length * quantile)]!;
}

/**
 * Where a clean single-voice stretch has speech: runs of at least 60 ms of
 * frames within 35 dB of the voice's level and 8 dB above its noise floor
 * (LibriSpeech 2609's floor is only 21 dB below its speech; a click or a breath
 * in a pause is shorter), joined across pauses under 0.3 s, and kept when they
 * last 0.2 s.
 */
function speechSpans(audio: Float32Array, thresholdDb: number): [number, number][] {
  const frames = Math.floor(audio.length / FRAME);
  const runs: [number, number][] = [];
  for (let f = 0; f < frames; f++) {
    if (frameDb(audio, f) < thresholdDb) continue;
    const last = runs[runs.length - 1];
    if (last && last[1] === f) last[1] = f + 1;
    else runs.push([f, f + 1]);
  }
  const spans: [number, number][] = [];
  for (const [a, b] of runs.filter(([a, b]) => b - a >= 6)) {
    const last = spans[spans.length - 1];
    if (last && a - last[1] < 30) last[1] = b;
    else spans.push([a, b]);
  }
  return spans.filter(([a, b]) => b - a >= 20).map(([a, b]) => [(a * FRAME) / SAMPLE_RATE, (b * FRAME) / SAMPLE_RATE]);
}

/** A voice's clips joined in a seeded order, looped, levelled: read turn after turn. */
class VoiceStream {
  private at = 0;
  private constructor(
    private readonly audio: Float32Array,
    /** Frames at least this loud are speech. */
    readonly speechDb: number,
  ) {}

  static async open(voice: string, rand: () => number): Promise<VoiceStream> {
    const files = VOICES[voice]?.();
    if (!files?.length) throw new Error(`unknown voice ${voice}`);
    const order = files.map((f) => ({ f, k: rand() })).sort((a, b) => a.k - b.k);
    const clips = await Promise.all(order.map(({ f }) => decodeWhole(sharedPath(f))));
    const joined = new Float32Array(clips.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of clips) {
      joined.set(c, at);
      at += c.length;
    }
    // One speech loudness for every voice (-26 dB in 10 ms frames).
    const gain = 10 ** ((-26 - levelDb(joined, 0.9)) / 20);
    for (let i = 0; i < joined.length; i++) joined[i]! *= gain;
    return new VoiceStream(joined, Math.max(-26 - 35, levelDb(joined, 0.1) + 8));
  }

  /** About `sec` seconds, ending at the quietest 20 ms within a second of that length. */
  take(sec: number): Float32Array {
    const want = Math.round(sec * SAMPLE_RATE);
    const window = SAMPLE_RATE;
    let best = want;
    let bestDb = Infinity;
    for (let end = want - window; end <= want + window; end += FRAME) {
      let sum = 0;
      for (let i = end - 2 * FRAME; i < end; i++) sum += this.sample(this.at + i) ** 2;
      const db = 10 * Math.log10(sum + 1e-12);
      if (db < bestDb) [best, bestDb] = [end, db];
    }
    const out = Float32Array.from({ length: Math.max(FRAME, best) }, (_, i) => this.sample(this.at + i));
    this.at = (this.at + out.length) % this.audio.length;
    return out;
  }

  private sample(i: number): number {
    return this.audio[i % this.audio.length]!;
  }
}

export async function buildConversation(spec: ConversationSpec): Promise<Conversation> {
  const rand = mulberry32(spec.seed);
  const streams = new Map<string, VoiceStream>();
  for (const v of spec.voices) streams.set(v, await VoiceStream.open(v, rand));
  const total = spec.minutes * 60 * SAMPLE_RATE;
  const mix = new Float32Array(total + 60 * SAMPLE_RATE);
  const reference: SpeakerTurn[] = [];
  const turns: { voice: string; start: number; end: number }[] = [];
  let cursor = Math.round(0.5 * SAMPLE_RATE);
  let previous: { voice: string; length: number } | null = null;
  while (cursor < total) {
    const now = cursor / SAMPLE_RATE;
    const away = (v: string) => spec.absent?.voice === v && now >= spec.absent.fromSec && now < spec.absent.toSec;
    const choices = spec.voices.filter((v) => v !== previous?.voice && !away(v));
    const voice = choices[Math.floor(rand() * choices.length)] ?? spec.voices.find((v) => !away(v))!;
    const audio = streams.get(voice)!.take(2 * 20 ** rand());
    let start = cursor;
    if (previous && rand() < 0.2) {
      // Talking over the end of the previous turn, never over more than half of either.
      const overlap = Math.round((0.2 + 0.8 * rand()) * SAMPLE_RATE);
      start = cursor - Math.min(overlap, Math.floor(previous.length / 2), Math.floor(audio.length / 2));
    } else if (previous) {
      start = cursor + Math.round((0.2 + rand()) * SAMPLE_RATE);
    }
    for (let i = 0; i < audio.length; i++) mix[start + i]! += audio[i]!;
    for (const [a, b] of speechSpans(audio, streams.get(voice)!.speechDb))
      reference.push({ start: start / SAMPLE_RATE + a, end: start / SAMPLE_RATE + b, speaker: voice });
    turns.push({ voice, start: start / SAMPLE_RATE, end: (start + audio.length) / SAMPLE_RATE });
    cursor = start + audio.length;
    previous = { voice, length: audio.length };
  }
  const samples = mix.subarray(0, cursor + Math.round(0.5 * SAMPLE_RATE));
  let peak = 0;
  for (const x of samples) peak = Math.max(peak, Math.abs(x));
  if (peak > 0.99) for (let i = 0; i < samples.length; i++) samples[i]! *= 0.99 / peak;

  mkdirSync(OUT_DIR, { recursive: true });
  const wav = join(OUT_DIR, `${spec.name}.wav`);
  await writeWav(wav, samples);
  reference.sort((a, b) => a.start - b.start);
  writeFileSync(join(OUT_DIR, `${spec.name}.rttm`), reference.map((r) => rttmLine(spec.name, r)).join(""));
  const conversation = { spec, wav, reference, durationSec: samples.length / SAMPLE_RATE };
  writeFileSync(join(OUT_DIR, `${spec.name}.json`), `${JSON.stringify({ ...conversation, turns }, null, 1)}\n`);
  return conversation;
}

function rttmLine(file: string, r: SpeakerTurn): string {
  return `SPEAKER ${file} 1 ${r.start.toFixed(3)} ${(r.end - r.start).toFixed(3)} <NA> <NA> ${r.speaker} <NA> <NA>\n`;
}

/** 16 kHz mono 16-bit WAV by ffmpeg, written beside and renamed into place. */
async function writeWav(path: string, samples: Float32Array): Promise<void> {
  const tmp = `${path}.${process.pid}.partial.wav`;
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      resolveBinaries().ffmpeg,
      ["-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", "16000", "-ac", "1", "-i", "-", "-c:a", "pcm_s16le", tmp],
      (error) => (error ? reject(error) : resolve()),
    );
    child.stdin!.end(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  });
  renameSync(tmp, path);
}

/** The conversation from .tmp/diarization, built first if it is not there (or `force`). */
export async function conversation(spec: ConversationSpec, force = false): Promise<Conversation> {
  const meta = join(OUT_DIR, `${spec.name}.json`);
  if (!force && existsSync(meta) && existsSync(join(OUT_DIR, `${spec.name}.wav`))) {
    const saved = JSON.parse(readFileSync(meta, "utf8")) as Conversation;
    if (JSON.stringify(saved.spec) === JSON.stringify(spec)) return saved;
  }
  return buildConversation(spec);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const force = process.argv.includes("--force");
  const names = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !CONVERSATIONS.some((c) => c.name === n));
  if (unknown.length) throw new Error(`unknown conversation ${unknown.join(", ")}; known: ${CONVERSATIONS.map((c) => c.name).join(", ")}`);
  for (const spec of CONVERSATIONS.filter((c) => names.length === 0 || names.includes(c.name))) {
    const c = await conversation(spec, force);
    const speech = c.reference.reduce((n, r) => n + r.end - r.start, 0);
    console.log(
      `${c.wav}: ${c.durationSec.toFixed(1)} s, ${spec.voices.length} voices, ${c.reference.length} reference turns, ${speech.toFixed(1)} s of speech`,
    );
  }
}
