import { describe, expect, it } from "vitest";
import { packagedModel } from "../../test/support/whisper-models.ts";
import { openModelDir } from "./model-dir.ts";
import { MAX_PROMPT_TOKENS, promptPrefix } from "./prompt.ts";
import { Vocab } from "./vocab.ts";

describe("prompt prefix", async () => {
  const files = openModelDir(await packagedModel("tiny"));
  const vocab = new Vocab(files, files.config.vocab_size);

  it("is <|startofprev|> and the prompt's tokens after a space, as openai/whisper encodes it", () => {
    // openai/whisper's multilingual tokenizer: sot_prev is 50361.
    expect(vocab.startOfPrev).toBe(50361);
    expect(promptPrefix(vocab, "  Kennedy's speech\n")).toEqual([vocab.startOfPrev, ...vocab.encodeText(" Kennedy's speech")]);
    expect(vocab.encodeText(" Kennedy's speech")).not.toEqual(vocab.encodeText("Kennedy's speech"));
    expect(promptPrefix(vocab, "")).toEqual([]);
    expect(promptPrefix(vocab, " \n ")).toEqual([]);
    expect(promptPrefix(vocab, undefined)).toEqual([]);
  });

  it("keeps the last 223 tokens of a longer prompt", () => {
    const words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran"];
    const text = Array.from({ length: 300 }, (_, i) => words[i % words.length]).join(" ");
    const all = vocab.encodeText(` ${text}`);
    expect(all.length).toBe(300);
    const prefix = promptPrefix(vocab, text);
    expect(prefix.length).toBe(1 + MAX_PROMPT_TOKENS);
    expect(MAX_PROMPT_TOKENS).toBe(223);
    expect(prefix[0]).toBe(vocab.startOfPrev);
    expect(prefix.slice(1)).toEqual(all.slice(-223));
    expect(vocab.decodeText(prefix.slice(1))).toBe(` ${text.split(" ").slice(-223).join(" ")}`);
  });
});
