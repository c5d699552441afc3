import { decodeBatch, type DecodedSequence, type DecodeItem } from "./decode-batch.ts";
import { levelUtterances } from "./level-utterances.ts";
import { SAMPLE_RATE } from "../media/pcm.ts";
import { batchesEncoder } from "./execution-provider.ts";
import { HOP, WINDOW_SAMPLES } from "./log-mel.ts";
import { heardSpan, likelyInvented, missedSpans, repeatsNeighbours, saidAgain, soundOf } from "./missed-sound.ts";
import { promptPrefix } from "./prompt.ts";
import { compressionRatio, isSilence, needsFallback, repeatedSegments, temperaturesFrom, type DecodeQuality } from "./quality.ts";
import { cutAtPauses } from "./segment-pauses.ts";
import { snapStarts } from "./segment-starts.ts";
import { splitSegments } from "./segments.ts";
import { WhisperModel, type LoadOptions } from "./whisper-model.ts";
import { tokenStartTimes, trimToSound, wordsOf, type TokenWord } from "./word-timing.ts";

export interface TranscribeOptions {
  /** "auto" detects per chunk; an ISO code forces it. */
  language: string;
  task: "transcribe" | "translate";
  /** Chunks decoded together. */
  batchSize: number;
  wordTimestamps: boolean;
  /** Text every chunk is conditioned on (Whisper's initial prompt); none when empty. */
  prompt?: string;
  /** The first temperature of the fallback schedule (temperaturesFrom); 0 when not given. */
  temperature?: number;
  /**
   * Beams per chunk at temperature 0 (Whisper's beam_size; beam-search.ts); 1, the
   * default, is greedy. The hotter fallback steps sample one decode each, as before.
   */
  beamSize?: number;
  /** Stops the work between model calls (a canceled job, a shutdown). */
  signal?: AbortSignal;
}

export const DEFAULT_TRANSCRIBE: TranscribeOptions = { language: "auto", task: "transcribe", batchSize: 8, wordTimestamps: false };

/** A segment with times relative to its chunk; the caller adds the chunk's offset. */
export interface EngineSegment {
  startSec: number;
  endSec: number;
  text: string;
  tokens: number[];
  avgLogprob: number;
  noSpeechProb: number;
  compressionRatio: number;
  language: string;
  /** `lastToken` indexes this segment's `tokens`. */
  words?: TokenWord[];
}

/** What the machine runtime needs of an engine (bench/ puts a simulated one in its place). */
export type ChunkEngine = Pick<WhisperEngine, "transcribe">;

export interface ChunkTranscript {
  segments: EngineSegment[];
  language: string;
  /** Per-language probabilities when the language was detected, for the job's vote. */
  languageProbs: Record<string, number> | null;
  /** The temperature whose result was kept. */
  temperature: number;
  quality: DecodeQuality;
  /** Set when the chunk was judged silent and its text dropped. */
  skipped: "silence" | null;
}

/** Audio samples per encoder frame (two mel hops, 20 ms): cross-attention is cropped to these. */
const SAMPLES_PER_FRAME = 2 * HOP;

/** -80 dBFS: below the noise floor of any real recording. */
const SILENT_PEAK = 1e-4;

function peak(samples: Float32Array): number {
  let max = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = Math.abs(samples[i]!);
    if (v > max) max = v;
  }
  return max;
}

export class EngineError extends Error {
  override readonly name = "EngineError";
}

/**
 * Whisper on onnxruntime-node for micro chunks of up to 30 s: log-mel features,
 * one encoder pass per chunk, batched decoding across chunks, then the original's
 * guards (temperature fallback on repetitive or unsure text, silence skip, loop cut).
 */
export class WhisperEngine {
  private constructor(readonly model: WhisperModel) {}

  static async load(dir: string, options: LoadOptions = {}): Promise<WhisperEngine> {
    return new WhisperEngine(await WhisperModel.load(dir, options));
  }

  get languages(): string[] {
    return [...this.model.vocab.languages.keys()];
  }

  /** Transcribes chunks (16 kHz mono, at most 30 s each); results in input order. */
  async transcribe(chunks: readonly Float32Array[], options: Partial<TranscribeOptions> = {}): Promise<ChunkTranscript[]> {
    const opts = { ...DEFAULT_TRANSCRIBE, ...options };
    const forced = opts.language === "auto" ? null : opts.language;
    if (forced !== null && this.model.vocab.languages.size > 0 && !this.model.vocab.languages.has(forced)) {
      throw new EngineError(`Unsupported language "${forced}"; this model knows ${this.languages.join(", ")}`);
    }
    for (const c of chunks)
      if (c.length > WINDOW_SAMPLES) throw new EngineError(`A chunk of ${(c.length / SAMPLE_RATE).toFixed(2)} s is longer than Whisper's 30 s window`);
    // Word timings place segment edges even when no words are asked for: a pause between
    // words ends a segment and a start moves to its first word's sound. On held-out long
    // form, 73-76 % of starts came within 0.3 s of the VAD speech onset without them and
    // 86-88 % with them, the text the same, for a few per cent of decoder time. A model
    // without alignment heads cannot time words and keeps the energy snap alone, and so
    // does a device that keeps the decoder's states on itself (WebGPU) unless words are
    // asked for: its cross-attention comes from a second pass of the decoder on the CPU
    // (host-attention.ts), ~130 ms per 100-token chunk on two cores, too dear for every
    // chunk of a GPU's batch.
    const aligns = this.model.vocab.alignmentHeads.length > 0 && !this.model.statesOnDevice;
    const timed = { ...opts, wordTimestamps: opts.wordTimestamps || aligns };
    const results: ChunkTranscript[] = [];
    for (let at = 0; at < chunks.length; at += opts.batchSize) {
      results.push(...(await this.transcribeBatch(chunks.slice(at, at + opts.batchSize), at, forced, timed)));
    }
    return opts.wordTimestamps ? results : results.map(withoutWords);
  }

  /** Language probabilities of each chunk from one encoder pass and one decoder step. */
  async detectLanguage(chunks: readonly Float32Array[], batchSize = DEFAULT_TRANSCRIBE.batchSize): Promise<Array<Record<string, number>>> {
    if (this.model.vocab.languages.size === 0) throw new EngineError(`${this.model.files.name} is English-only and cannot detect languages`);
    const out: Array<Record<string, number>> = [];
    for (let at = 0; at < chunks.length; at += batchSize) {
      const batch = chunks.slice(at, at + batchSize).map((c) => c.subarray(0, WINDOW_SAMPLES));
      const hidden = await this.encodeAll(batch);
      const items = batch.map((c, i) => ({ hidden: hidden[i]!, language: null, audioFrames: Math.ceil(c.length / SAMPLES_PER_FRAME), seed: 0 }));
      const decoded = await decodeBatch(this.model, items, {
        task: "transcribe",
        temperature: 0,
        timestamps: true,
        attention: false,
        maxInitialTimestampSec: 1,
        detectOnly: true,
      });
      out.push(...decoded.map((d) => d.languageProbs ?? {}));
    }
    return out;
  }

  private async transcribeBatch(all: readonly Float32Array[], offset: number, forced: string | null, opts: TranscribeOptions): Promise<ChunkTranscript[]> {
    // Digital silence needs no model to judge, and is where Whisper invents "you" or "Thank you.".
    const audible = all.map((_, i) => i).filter((i) => peak(all[i]!) >= SILENT_PEAK);
    const decoded = await this.decodeAudible(
      audible.map((i) => all[i]!),
      offset,
      audible.map(() => forced),
      opts,
    );
    return all.map((_, i) => {
      const k = audible.indexOf(i);
      return k >= 0
        ? { ...decoded[k]!, segments: snapStarts(this.cutAtPauses(decoded[k]!.segments), all[i]!) }
        : {
            segments: [],
            language: forced ?? "en",
            languageProbs: null,
            temperature: 0,
            quality: { avgLogprob: 0, compressionRatio: 0, noSpeechProb: 1, looped: false },
            skipped: "silence",
          };
    });
  }

  /** `languages`: per chunk, the language to force or null to detect. */
  private async decodeAudible(
    chunks: readonly Float32Array[],
    offset: number,
    languages: ReadonlyArray<string | null>,
    opts: TranscribeOptions,
    missedPass = true,
  ): Promise<ChunkTranscript[]> {
    if (chunks.length === 0) return [];
    const results = await this.decodeWithFallback(chunks, offset, languages, opts);
    if (!missedPass) return results;
    const missed = results.flatMap((r, i) => (r.skipped !== null ? [] : missedSpans(r.segments.map(heardSpan), chunks[i]!).map((span) => ({ i, span }))));
    if (missed.length === 0) return results;
    const decoded = await this.decodeAudible(
      missed.map(({ i, span }) => chunks[i]!.subarray(Math.round(span.fromSec * SAMPLE_RATE), Math.round(span.toSec * SAMPLE_RATE))),
      offset + 1_000_000,
      // A missed span lies inside its chunk, in its chunk's language.
      missed.map(({ i }) => results[i]!.language),
      opts,
      false,
    );
    missed.forEach(({ i, span }, k) => {
      const r = results[i]!;
      const before = r.segments.filter((s) => s.endSec <= span.fromSec).at(-1);
      const after = r.segments.find((s) => s.startSec >= span.toSec);
      const inside = r.segments.filter((s) => s !== before && s !== after && s.endSec > span.fromSec && s.startSec < span.toSec);
      const neighbours = [before?.text ?? "", ...inside.map((s) => s.text), after?.text ?? ""];
      if (likelyInvented(decoded[k]!.quality)) return;
      // Words already in the segments beside the span are a repeat, unless the span's own
      // sound is long enough to have said them again (an utterance that is really repeated).
      const sound = soundOf(chunks[i]!);
      const extra = decoded[k]!.segments.filter(
        (s) => !repeatsNeighbours(s.text, neighbours) || saidAgain(s.text, { fromSec: s.startSec + span.fromSec, toSec: s.endSec + span.fromSec }, sound),
      ).map((s) => ({
        ...s,
        startSec: s.startSec + span.fromSec,
        endSec: s.endSec + span.fromSec,
        ...(s.words ? { words: s.words.map((w) => ({ ...w, startSec: w.startSec + span.fromSec, endSec: w.endSec + span.fromSec })) } : {}),
      }));
      if (extra.length === 0) return;
      // A segment whose unheard lead or tail was this span now starts or ends where it was heard.
      const kept = r.segments.map((s) => {
        const heard = heardSpan(s);
        const from = heard.fromSec > s.startSec && heard.fromSec === span.toSec ? heard.fromSec : s.startSec;
        const to = heard.toSec < s.endSec && heard.toSec === span.fromSec ? heard.toSec : s.endSec;
        return { ...s, startSec: from, endSec: to };
      });
      results[i] = { ...r, segments: [...kept, ...extra].sort((a, b) => a.startSec - b.startSec) };
    });
    return results;
  }

  private async decodeWithFallback(
    chunks: readonly Float32Array[],
    offset: number,
    languages: ReadonlyArray<string | null>,
    opts: TranscribeOptions,
  ): Promise<ChunkTranscript[]> {
    const hidden = await this.encodeAll(chunks, opts.signal);
    const items: DecodeItem[] = chunks.map((c, i) => ({
      hidden: hidden[i]!,
      language: languages[i] ?? null,
      audioFrames: Math.max(1, Math.ceil(c.length / SAMPLES_PER_FRAME)),
      seed: offset + i,
    }));
    const best: Array<{ seq: DecodedSequence; quality: DecodeQuality; temperature: number } | null> = chunks.map(() => null);
    let pending = items.map((_, i) => i);
    // One task's chunks, so one prompt for the whole batch.
    const prefix = promptPrefix(this.model.vocab, opts.prompt);
    for (const temperature of temperaturesFrom(opts.temperature ?? 0)) {
      if (pending.length === 0) break;
      const decoded = await decodeBatch(
        this.model,
        pending.map((i) => ({ ...items[i]!, seed: items[i]!.seed * 31 + Math.round(temperature * 10) })),
        {
          task: opts.task,
          temperature,
          timestamps: true,
          attention: opts.wordTimestamps,
          maxInitialTimestampSec: 1,
          prefix,
          // One beam is greedy, and the greedy loop does it for less.
          ...((opts.beamSize ?? 1) > 1 ? { beamSize: opts.beamSize } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        },
      );
      const retry: number[] = [];
      decoded.forEach((seq, k) => {
        const i = pending[k]!;
        // A fallback keeps the language the first pass settled on.
        if (languages[i] === null) items[i] = { ...items[i]!, language: seq.language };
        const quality = this.qualityOf(seq);
        const previous = best[i];
        // Every retried chunk failed before: a passing result wins, else the more likely non-loop.
        const keep = !previous || !needsFallback(quality) || (!quality.looped && (previous.quality.looped || quality.avgLogprob > previous.quality.avgLogprob));
        if (keep) best[i] = { seq: previous ? { ...seq, languageProbs: previous.seq.languageProbs } : seq, quality, temperature };
        if (needsFallback(quality)) retry.push(i);
      });
      pending = retry;
    }
    return best.map((b, i) => this.toTranscript(b!.seq, b!.quality, b!.temperature, chunks[i]!));
  }

  private async encodeAll(chunks: readonly Float32Array[], signal?: AbortSignal): Promise<Float32Array[]> {
    const perCall = batchesEncoder(this.model.device) ? chunks.length : 1;
    const hidden: Float32Array[] = [];
    for (let at = 0; at < chunks.length; at += perCall) {
      signal?.throwIfAborted();
      hidden.push(...(await this.model.encode(chunks.slice(at, at + perCall).map((c) => levelUtterances(c)))));
    }
    return hidden;
  }

  private qualityOf(seq: DecodedSequence): DecodeQuality {
    const { vocab } = this.model;
    const text = vocab.decodeText(seq.tokens);
    return {
      avgLogprob: seq.sumLogprob / (seq.tokens.length + 1),
      compressionRatio: compressionRatio(text),
      noSpeechProb: seq.noSpeechProb,
      looped: seq.looped,
    };
  }

  /** After the missed-sound pass, which must see the segments as decoded: a cut leaves a pause between segments for it to fill. */
  private cutAtPauses(segments: EngineSegment[]): EngineSegment[] {
    return segments.flatMap((s) => (s.words ? cutAtPauses(s, s.words, (tokens) => this.model.vocab.decodeText(tokens)) : [s]));
  }

  private toTranscript(seq: DecodedSequence, quality: DecodeQuality, temperature: number, samples: Float32Array): ChunkTranscript {
    const audioSec = samples.length / SAMPLE_RATE;
    const base = { language: seq.language, languageProbs: seq.languageProbs, temperature, quality };
    if (isSilence(quality)) return { ...base, segments: [], skipped: "silence" };
    const { vocab } = this.model;
    const starts = seq.attention ? tokenStartTimes(seq.attention) : null;
    const segments = splitSegments(seq.tokens, vocab, audioSec)
      .map((s): EngineSegment => {
        const segment: EngineSegment = {
          startSec: s.startSec,
          endSec: s.endSec,
          text: vocab.decodeText(s.tokens).trim(),
          tokens: s.tokens,
          avgLogprob: quality.avgLogprob,
          noSpeechProb: quality.noSpeechProb,
          compressionRatio: quality.compressionRatio,
          language: seq.language,
        };
        if (starts) {
          const bounds = starts.slice(s.firstIndex, s.firstIndex + s.tokens.length + 1).map((t) => Math.min(Math.max(t, s.startSec), s.endSec));
          segment.words = trimToSound(
            wordsOf(s.tokens, seq.logprobs.slice(s.firstIndex, s.firstIndex + s.tokens.length), bounds, vocab, seq.language),
            samples,
          );
        }
        return segment;
      })
      .filter((s) => s.text.length > 0);
    // A sentence re-issued with new timestamps is a loop the token check cannot see;
    // it is dropped rather than retried hotter (retrying made whisper-tiny's long-form
    // WER worse by 0.6 points: its sampled decodes are poorer than the repeat).
    const repeats = new Set(repeatedSegments(segments.map((s) => s.text)));
    return { ...base, segments: segments.filter((_, k) => !repeats.has(k)), skipped: null };
  }
}

function withoutWords(r: ChunkTranscript): ChunkTranscript {
  return { ...r, segments: r.segments.map(({ words, ...s }) => s) };
}
