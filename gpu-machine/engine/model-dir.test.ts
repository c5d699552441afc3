import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packagedModel } from "../../test/support/whisper-models.ts";
import { ModelFilesError, openModelDir } from "./model-dir.ts";
import { splitSegments } from "./segments.ts";
import { Vocab } from "./vocab.ts";
import { WhisperModel } from "./whisper-model.ts";

const scratch = mkdtempSync(join(tmpdir(), "model-dir-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of a packaged export with some files changed, to provoke each error. */
async function variantOf(size: "tiny" | "base", name: string, change: (dir: string) => void): Promise<string> {
  const dir = join(scratch, name);
  cpSync(await packagedModel(size), dir, { recursive: true });
  change(dir);
  return dir;
}

describe("model directory", () => {
  it("packaged weights match their recorded SHA-256 and load as the q8 variant", async () => {
    const m = openModelDir(await packagedModel("tiny"));
    expect(m.variant).toBe("q8");
    expect(m.encoderPath).toMatch(/onnx\/encoder_model_quantized\.onnx$/);
    expect(m.config.num_mel_bins).toBe(80);
    expect(m.generation.alignment_heads.length).toBeGreaterThan(0);
  });

  it("a missing directory, config or graph is named in the error", async () => {
    expect(() => openModelDir(join(scratch, "nowhere"))).toThrow(/nowhere: model directory not found/);
    const noConfig = await variantOf("tiny", "no-config", (d) => rmSync(join(d, "config.json")));
    expect(() => openModelDir(noConfig)).toThrow(/config\.json: missing/);
    const noDecoder = await variantOf("tiny", "no-decoder", (d) => rmSync(join(d, "onnx", "decoder_model_merged_quantized.onnx")));
    expect(() => openModelDir(noDecoder)).toThrow(ModelFilesError);
    expect(() => openModelDir(noDecoder)).toThrow(/decoder_model_merged_quantized\.onnx: missing/);
    expect(() => openModelDir(noDecoder, "fp16")).toThrow(/encoder_model_fp16\.onnx: missing/);
  });

  it("a config that does not describe Whisper, or graphs from another size, fail naming the file", async () => {
    const wrongType = await variantOf("tiny", "not-whisper", (d) => writeFileSync(join(d, "config.json"), JSON.stringify({ model_type: "bert" })));
    expect(() => openModelDir(wrongType)).toThrow(/config\.json: does not describe a Whisper model/);
    // base's graphs (6 decoder layers) under tiny's config (4 layers).
    const baseDir = await packagedModel("base");
    const mixed = await variantOf("tiny", "mixed", (d) => cpSync(join(baseDir, "onnx"), join(d, "onnx"), { recursive: true }));
    await expect(WhisperModel.load(mixed, { device: "cpu", threads: 1 })).rejects.toThrow(/decoder_model_merged_quantized\.onnx: does not match config\.json/);
  }, 60_000);
});

describe("tokens", () => {
  it("text round-trips through the tokenizer and special ids come from the config", async () => {
    const model = openModelDir(await packagedModel("tiny"));
    const vocab = new Vocab(model, model.config.vocab_size);
    for (const text of [" And so my fellow Americans", " Grüße aus Köln, 1455!", " 東京タワー", " ask not—what?"]) {
      expect(vocab.decodeText(vocab.encodeText(text))).toBe(text);
    }
    // A decode of timestamps alone has no text (the tokenizer itself throws on an empty list).
    expect(vocab.decodeText([vocab.timestampBegin, vocab.timestampBegin + 50])).toBe("");
    expect(vocab.timestampBegin).toBe(model.generation.no_timestamps_token_id + 1);
    expect(vocab.languageToken("en")).toBe(model.generation.lang_to_id["<|en|>"]);
    expect(vocab.languageOf(vocab.languageToken("de")!)).toBe("de");
    expect(vocab.noSpeech).not.toBeNull();
    expect(vocab.suppress).toContain(vocab.sot);
    expect(vocab.suppress).toContain(vocab.noSpeech);
  });

  it("timestamp tokens print as the original does and split text into segments", async () => {
    const model = openModelDir(await packagedModel("tiny"));
    const vocab = new Vocab(model, model.config.vocab_size);
    const ts = (sec: number) => vocab.timestampBegin + Math.round(sec / 0.02);
    const hello = vocab.encodeText(" Hello there.");
    const world = vocab.encodeText(" General Kenobi.");
    const tokens = [ts(0), ...hello, ts(1.5), ts(1.5), ...world, ts(3.24)];
    expect(vocab.decodeWithTimestamps(tokens)).toBe("<|0.00|> Hello there.<|1.50|><|1.50|> General Kenobi.<|3.24|>");
    const segments = splitSegments(tokens, vocab, 10);
    expect(segments.map((s) => [s.startSec, s.endSec, vocab.decodeText(s.tokens)])).toEqual([
      [0, 1.5, " Hello there."],
      [1.5, 3.24, " General Kenobi."],
    ]);
    expect(segments[1]!.firstIndex).toBe(hello.length + 3);
    // Cut short after text: the segment runs to the end of the audio.
    expect(splitSegments([ts(2), ...hello], vocab, 7.5).map((s) => [s.startSec, s.endSec])).toEqual([[2, 7.5]]);
  });
});
