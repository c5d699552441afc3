import type { Vocab } from "./vocab.ts";

/**
 * Prompt tokens a decode sees at most: openai/whisper keeps the last n_ctx / 2 - 1
 * (223 of the decoder's 448 positions), so the prompt leaves room for the text.
 */
export const MAX_PROMPT_TOKENS = 223;

/**
 * The tokens before <|startoftranscript|> that condition a decode on `prompt`, built
 * as openai/whisper builds them: <|startofprev|>, then `" " + prompt.trim()` encoded
 * (a leading space, as text that follows earlier text), cut to its last 223 tokens,
 * the end being what the speech continues from. Empty for no prompt.
 */
export function promptPrefix(vocab: Pick<Vocab, "startOfPrev" | "encodeText">, prompt: string | undefined): number[] {
  const text = prompt?.trim() ?? "";
  if (text === "") return [];
  if (vocab.startOfPrev === null) throw new Error("This model cannot take a prompt (no <|startofprev|> token)");
  return [vocab.startOfPrev, ...vocab.encodeText(` ${text}`).slice(-MAX_PROMPT_TOKENS)];
}
