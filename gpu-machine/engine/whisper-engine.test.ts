import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, REPO_ROOT, readJsonl, sharedPath } from "../../test/support/shared-data.ts";
import { packagedModel } from "../../test/support/whisper-models.ts";
import { normalizeEnglish } from "../eval/english-normalizer.ts";
import { wordErrorRate } from "../eval/wer.ts";
import { concatSamples } from "../media/pcm.ts";
import { decodeBatch } from "./decode-batch.ts";
import { loopCut } from "./quality.ts";
import { type ChunkTranscript, WhisperEngine } from "./whisper-engine.ts";

interface ManifestItem {
  audio: string;
  text: string;
  language: string;
  duration_sec: number;
}
function manifest(set: string): ManifestItem[] {
  return readJsonl<ManifestItem>(sharedPath("data", "speech", set, "manifest.jsonl"));
}
const clip = (set: string, item: ManifestItem) => decodeWhole(sharedPath("data", "speech", set, item.audio));

const need = missingShared(
  "data/speech/librispeech-test-clean/manifest.jsonl",
  "data/speech/jfk/manifest.jsonl",
  "data/speech/ljspeech/manifest.jsonl",
  "data/speech/fleurs-multilingual/manifest.jsonl",
);
const LONG = 600_000;

describe.skipIf(need.missing)("Whisper engine on real speech", () => {
  let tiny: WhisperEngine;
  let base: WhisperEngine;
  beforeAll(async () => {
    tiny = await WhisperEngine.load(await packagedModel("tiny"), { threads: 2 });
    base = await WhisperEngine.load(await packagedModel("base"), { threads: 2 });
  }, 120_000);
  afterAll(async () => {
    await tiny?.model.release();
    await base?.model.release();
  });

  it(
    "whisper-base WER on LibriSpeech test-clean, JFK and LJSpeech is within 1 point of transformers.js on the same weights",
    async () => {
      // Recorded by `npx tsx bench/transformersjs-baseline.ts` (transformers.js 4.3.1, same q8 export, same clips).
      const baseline = JSON.parse(readFileSync(join(REPO_ROOT, "test/fixtures/transformersjs-baseline.json"), "utf8")) as {
        models: Array<{ model: string; clips: Array<{ set: string; audio: string; reference: string; hypothesis: string }> }>;
      };
      const theirs = baseline.models.find((m) => m.model === "Xenova/whisper-base")!.clips;
      const sets = ["librispeech-test-clean", "jfk", "ljspeech"];
      const items = sets.flatMap((set) => manifest(set).map((item) => ({ set, item })));
      expect(theirs.map((c) => c.audio).sort()).toEqual(items.map((c) => `${c.set}/${c.item.audio}`).sort());
      const audio = await Promise.all(items.map((c) => clip(c.set, c.item)));
      const results = await base.transcribe(audio, { language: "en", batchSize: 8 });
      const ours = wordErrorRate(results.map((r, i) => ({ reference: items[i]!.item.text, hypothesis: r.segments.map((s) => s.text).join(" ") })));
      const reference = wordErrorRate(theirs.map((c) => ({ reference: c.reference, hypothesis: c.hypothesis })));
      console.log(`WER whisper-base: engine ${(ours.wer * 100).toFixed(2)} %, transformers.js ${(reference.wer * 100).toFixed(2)} % over ${ours.words} words`);
      expect(ours.words).toBeGreaterThan(400);
      expect(ours.wer * 100).toBeLessThanOrEqual(reference.wer * 100 + 1.0);
      for (const r of results) {
        for (const s of r.segments) {
          expect(s.endSec).toBeGreaterThanOrEqual(s.startSec);
          expect(s.language).toBe("en");
        }
      }
    },
    LONG,
  );

  it(
    "a batch of 8 chunks gives the same text as the chunks one by one",
    async () => {
      const audio = await Promise.all(
        manifest("ljspeech")
          .slice(0, 8)
          .map((item) => clip("ljspeech", item)),
      );
      const batched = await tiny.transcribe(audio, { language: "en", batchSize: 8 });
      const single = await tiny.transcribe(audio, { language: "en", batchSize: 1 });
      const text = (r: (typeof batched)[number]) => normalizeEnglish(r.segments.map((s) => s.text).join(" "));
      // The int8 export quantizes activations per tensor, so batch neighbours can move a
      // logit slightly (seen: "printing" vs "Printing"); the words must not change.
      expect(batched.map(text)).toEqual(single.map(text));
      expect(batched.every((r) => r.segments.length > 0)).toBe(true);
    },
    LONG,
  );

  it(
    "detects the language of ≥ 90 % of FLEURS clips with whisper-base",
    async () => {
      const items = manifest("fleurs-multilingual");
      const audio = await Promise.all(items.map((item) => clip("fleurs-multilingual", item)));
      const probs = await base.detectLanguage(audio);
      const detected = probs.map((p) => Object.entries(p).sort((a, b) => b[1] - a[1])[0]![0]);
      const correct = detected.filter((d, i) => d === items[i]!.language.split("-")[0]).length;
      console.log(
        `language detection: ${correct}/${items.length}; wrong: ${detected
          .map((d, i) => (d === items[i]!.language ? null : `${items[i]!.audio}: ${d} (expected ${items[i]!.language})`))
          .filter(Boolean)
          .join("; ")}`,
      );
      expect(correct / items.length).toBeGreaterThanOrEqual(0.9);
      for (const p of probs) expect(Object.values(p).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    },
    LONG,
  );

  it(
    "auto language gives each chunk its own language and probabilities; a forced language is kept",
    async () => {
      const items = manifest("fleurs-multilingual");
      const de = items.find((i) => i.language === "de")!;
      const fr = items.find((i) => i.language === "fr")!;
      const audio = await Promise.all([clip("fleurs-multilingual", de), clip("fleurs-multilingual", fr)]);
      const auto = await base.transcribe(audio, { language: "auto" });
      expect(auto.map((r) => r.language)).toEqual(["de", "fr"]);
      expect(auto[0]!.languageProbs!.de).toBeGreaterThan(0.5);
      const forced = await base.transcribe(audio.slice(0, 1), { language: "de" });
      expect(forced[0]!.languageProbs).toBeNull();
      expect(forced[0]!.segments.every((s) => s.language === "de")).toBe(true);
      await expect(base.transcribe(audio.slice(0, 1), { language: "xx" })).rejects.toThrow(/Unsupported language "xx"/);
    },
    LONG,
  );

  it(
    "translates to English when asked",
    async () => {
      const de = manifest("fleurs-multilingual").find((i) => i.language === "de")!;
      const [r] = await base.transcribe([await clip("fleurs-multilingual", de)], { language: "de", task: "translate" });
      const text = r!.segments
        .map((s) => s.text)
        .join(" ")
        .toLowerCase();
      const english = text.split(/\W+/).filter((w) => ["the", "and", "of", "is", "to", "in", "a"].includes(w)).length;
      expect(english).toBeGreaterThanOrEqual(2);
    },
    LONG,
  );

  it(
    "a prompt conditions the text as Whisper's initial prompt does: its style and its spellings are followed (whisper-tiny)",
    async () => {
      const audio = await Promise.all([
        clip("jfk", manifest("jfk")[0]!),
        clip("ljspeech", manifest("ljspeech")[0]!),
        clip("librispeech-test-clean", manifest("librispeech-test-clean")[0]!),
      ]);
      const text = (r: ChunkTranscript) => r.segments.map((s) => s.text).join(" ");
      // Lower case without punctuation: the batch follows it, and the language is still detected without the prompt.
      const plain = await tiny.transcribe(audio, { language: "auto" });
      const styled = await tiny.transcribe(audio, {
        language: "auto",
        prompt: "hello everyone welcome back to the show today we talk about the news of the week",
      });
      expect(plain.map((r) => text(r)[0])).toEqual(["A", "P", "H"]);
      expect(text(plain[0]!)).toMatch(/^And so my fellow Americans ask not.*,.*\.$/);
      expect(styled.map((r) => text(r)[0])).toEqual(["a", "p", "h"]);
      expect(text(styled[0]!)).toMatch(/^and so my fellow Americans ask not[^,.]*$/);
      expect(styled.map((r) => r.language)).toEqual(["en", "en", "en"]);
      expect(styled.map((r) => r.languageProbs)).toEqual(plain.map((r) => r.languageProbs));
      // An unusual spelling in the prompt is taken up.
      const [spelled] = await tiny.transcribe(audio.slice(0, 1), { language: "en", prompt: "My fellow Amerikans, ask not." });
      expect(text(plain[0]!)).not.toContain("Amerikans");
      expect(text(spelled!)).toContain("my fellow Amerikans ask not what your country can do for you");
    },
    LONG,
  );

  it("silence produces no text and costs no inference", async () => {
    const t = performance.now();
    const [r] = await tiny.transcribe([new Float32Array(20 * 16_000)]);
    expect(r!.segments).toEqual([]);
    expect(r!.skipped).toBe("silence");
    expect(performance.now() - t).toBeLessThan(200);
  });

  it(
    "white noise is judged silence by the no-speech guard (whisper-base)",
    async () => {
      // whisper-tiny writes "Thank you for watching!" over the same noise with confidence
      // (avg logprob -0.8); in the pipeline Silero VAD keeps such chunks from the model.
      let seed = 7;
      const noise = Float32Array.from({ length: 10 * 16_000 }, () => (((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1) * 0.1);
      const [r] = await base.transcribe([noise]);
      expect(r!.segments).toEqual([]);
      expect(r!.skipped).toBe("silence");
      expect(r!.quality.noSpeechProb).toBeGreaterThan(0.6);
    },
    LONG,
  );

  it(
    "a decoding loop is cut at its first copy and the chunk falls back to a higher temperature",
    async () => {
      // LJSpeech sped up 3× by dropping samples (pitch up): whisper-tiny loops on it at temperature 0.
      const all = concatSamples(
        await Promise.all(
          manifest("ljspeech")
            .slice(0, 8)
            .map((item) => clip("ljspeech", item)),
        ),
      );
      const fast = Float32Array.from({ length: 30 * 16_000 }, (_, i) => all[i * 3] ?? 0);
      const [hidden] = await tiny.model.encode([fast]);
      const [greedy] = await decodeBatch(tiny.model, [{ hidden: hidden!, language: "en", audioFrames: 1500, seed: 1 }], {
        task: "transcribe",
        temperature: 0,
        timestamps: true,
        attention: false,
        maxInitialTimestampSec: 1,
      });
      expect(greedy!.looped).toBe(true);
      const text = greedy!.tokens.filter((t) => t < tiny.model.vocab.eot);
      expect(loopCut(text)).toBeNull();
      expect(greedy!.tokens.length).toBeLessThan(100);
      const [final] = await tiny.transcribe([fast], { language: "en" });
      expect(final!.temperature > 0 || final!.skipped === "silence").toBe(true);
      expect(final!.quality.looped && final!.skipped === null).toBe(false);
    },
    LONG,
  );

  it(
    "word timestamps land within 0.2 s of where speech starts and stops",
    async () => {
      // Two utterances with known silence around them: the first word must start where
      // the second utterance's energy starts, and its last word end where the energy ends.
      const [a, b] = await Promise.all(
        manifest("librispeech-test-clean")
          .slice(0, 2)
          .map((item) => clip("librispeech-test-clean", item)),
      );
      const gap = new Float32Array(Math.round(1.5 * 16_000));
      const audio = concatSamples([new Float32Array(16_000), a!.subarray(0, 8 * 16_000), gap, b!.subarray(0, Math.min(b!.length, 12 * 16_000))]);
      const secondStart = (16_000 + Math.min(a!.length, 8 * 16_000) + gap.length) / 16_000;
      const [r] = await base.transcribe([audio], { language: "en", wordTimestamps: true });
      const words = r!.segments.flatMap((s) => s.words ?? []);
      expect(words.length).toBeGreaterThan(10);
      for (let i = 1; i < words.length; i++) expect(words[i]!.startSec).toBeGreaterThanOrEqual(words[i - 1]!.endSec);
      const onsets = speechEdges(audio);
      const firstOf = words.find((w) => w.startSec >= secondStart - 0.3)!;
      const onsetB = onsets.starts.find((s) => s >= secondStart - 0.05)!;
      expect(Math.abs(firstOf.startSec - onsetB)).toBeLessThanOrEqual(0.2);
      // A pause of a second or more ends a segment: the second utterance opens one of its own.
      expect(r!.segments.map((s) => s.startSec)).toContain(firstOf.startSec);
      expect(Math.abs(words[0]!.startSec - onsets.starts[0]!)).toBeLessThanOrEqual(0.2);
      // The word before the pause ends where the first utterance's audio ends (we cut it at 9 s).
      const beforePause = words.filter((w) => w.startSec < secondStart - 0.3).at(-1)!;
      expect(Math.abs(beforePause.endSec - (1 + Math.min(a!.length, 8 * 16_000) / 16_000))).toBeLessThanOrEqual(0.2);
      for (const w of words) expect(w.probability).toBeGreaterThan(0);
      // Without words asked for, word timings still place the segments; the answer carries none.
      const [plain] = await base.transcribe([audio], { language: "en" });
      expect(plain!.segments.every((s) => s.words === undefined)).toBe(true);
      expect(plain!.segments.map((s) => [s.startSec, s.endSec, s.text])).toEqual(r!.segments.map((s) => [s.startSec, s.endSec, s.text]));
    },
    LONG,
  );
});

/** Starts of speech after ≥ 0.3 s of quiet, from 20 ms frame energy. */
function speechEdges(samples: Float32Array): { starts: number[] } {
  const frame = 320;
  const energy: number[] = [];
  for (let at = 0; at + frame <= samples.length; at += frame) {
    let sum = 0;
    for (let i = at; i < at + frame; i++) sum += samples[i]! ** 2;
    energy.push(Math.sqrt(sum / frame));
  }
  const loud = Math.max(...energy) * 0.05;
  const starts: number[] = [];
  let quiet = 15;
  energy.forEach((e, i) => {
    if (e >= loud) {
      if (quiet >= 15) starts.push((i * frame) / 16_000);
      quiet = 0;
    } else quiet += 1;
  });
  return { starts };
}
