import { Tokenizer } from "@huggingface/tokenizers";
import { ModelFilesError, type ModelDir } from "./model-dir.ts";

/** Seconds per timestamp token: Whisper's encoder frames are 20 ms apart. */
export const TIMESTAMP_STEP_SEC = 0.02;

/**
 * The special tokens of one export and the BPE tokenizer for the rest. Ids come from
 * generation_config.json and tokenizer.json rather than constants, since large-v3
 * added a language and moved every id after the language block by one.
 */
export class Vocab {
  readonly eot: number;
  readonly sot: number;
  /** <|startofprev|>: opens the text a decode is conditioned on (a prompt); null when the export has none. */
  readonly startOfPrev: number | null;
  readonly noTimestamps: number;
  readonly timestampBegin: number;
  readonly noSpeech: number | null;
  readonly size: number;
  readonly languages: ReadonlyMap<string, number>;
  readonly tasks: { transcribe: number; translate: number | null };
  /** Every token that must never be sampled as text. */
  readonly suppress: readonly number[];
  readonly beginSuppress: readonly number[];
  readonly alignmentHeads: ReadonlyArray<readonly [number, number]>;
  private readonly tokenizer: Tokenizer;
  private readonly languageById = new Map<number, string>();

  constructor(model: ModelDir, vocabSize: number) {
    const g = model.generation;
    this.tokenizer = new Tokenizer(model.tokenizerJson as never, model.tokenizerConfig as never);
    this.eot = g.eos_token_id;
    this.sot = g.decoder_start_token_id;
    this.startOfPrev = this.tokenizer.token_to_id("<|startofprev|>") ?? null;
    this.noTimestamps = g.no_timestamps_token_id;
    this.timestampBegin = g.no_timestamps_token_id + 1;
    this.size = vocabSize;
    this.noSpeech = this.tokenizer.token_to_id("<|nocaptions|>") ?? this.tokenizer.token_to_id("<|nospeech|>") ?? null;
    const languages = new Map<string, number>();
    for (const [token, id] of Object.entries(g.lang_to_id)) {
      const code = /^<\|([a-z]{2,3}(?:-[A-Za-z]+)?)\|>$/.exec(token)?.[1];
      if (code) {
        languages.set(code, id);
        this.languageById.set(id, code);
      }
    }
    this.languages = languages;
    const transcribe = g.task_to_id.transcribe ?? this.tokenizer.token_to_id("<|transcribe|>");
    if (transcribe === undefined) throw new ModelFilesError(`${model.dir}/generation_config.json`, "has no task_to_id.transcribe");
    this.tasks = { transcribe, translate: g.task_to_id.translate ?? null };
    // The original suppresses the task, language, start-of-* and no-speech tokens
    // besides the config's list: everything between end-of-text and the timestamps.
    const specials: number[] = [];
    for (let id = this.eot + 1; id < this.timestampBegin; id++) specials.push(id);
    this.suppress = [...new Set([...g.suppress_tokens, ...specials])].filter((id) => id < vocabSize);
    this.beginSuppress = g.begin_suppress_tokens;
    this.alignmentHeads = g.alignment_heads;
    if (this.timestampBegin + 1500 > vocabSize)
      throw new ModelFilesError(
        `${model.dir}/generation_config.json`,
        `no_timestamps_token_id ${this.noTimestamps} leaves no room for 1501 timestamp tokens in a vocabulary of ${vocabSize}`,
      );
  }

  languageToken(code: string): number | undefined {
    return this.languages.get(code);
  }

  languageOf(token: number): string | undefined {
    return this.languageById.get(token);
  }

  isTimestamp(token: number): boolean {
    return token >= this.timestampBegin;
  }

  timestampSec(token: number): number {
    return (token - this.timestampBegin) * TIMESTAMP_STEP_SEC;
  }

  /** Text of ordinary tokens; special and timestamp tokens are dropped. */
  decodeText(tokens: readonly number[]): string {
    const text = tokens.filter((t) => t < this.eot);
    // The tokenizer throws on an empty list: a decode of timestamps alone (seen with a prompt) has no text.
    return text.length === 0 ? "" : this.tokenizer.decode(text, { skip_special_tokens: true });
  }

  /** For the word splitter: the text of each token on its own (may hold partial UTF-8). */
  tokenText(token: number): string {
    return this.tokenizer.decode([token], { skip_special_tokens: true });
  }

  encodeText(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** The form the original prints, with <|x.xx|> tokens; used by tests and debugging. */
  decodeWithTimestamps(tokens: readonly number[]): string {
    let out = "";
    let text: number[] = [];
    const flush = () => {
      if (text.length) out += this.decodeText(text);
      text = [];
    };
    for (const t of tokens) {
      if (this.isTimestamp(t)) {
        flush();
        out += `<|${this.timestampSec(t).toFixed(2)}|>`;
      } else text.push(t);
    }
    flush();
    return out;
  }
}
