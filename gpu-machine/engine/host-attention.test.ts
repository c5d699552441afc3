import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, sharedPath } from "../../test/support/shared-data.ts";
import { packagedModel } from "../../test/support/whisper-models.ts";
import { decodeBatch } from "./decode-batch.ts";
import { writeFloatModel } from "./float-model.ts";
import { hostAttention } from "./host-attention.ts";
import { WhisperModel } from "./whisper-model.ts";

const jfk = missingShared("data/speech/jfk/jfk.wav");

describe.skipIf(jfk.missing)("cross-attention from one pass on the host (for a device that keeps its own)", () => {
  // Float weights, as a device runs them: the q8 graph quantizes each call's activations
  // with one scale, so one call of every token and a call per token differ by its rounding.
  let dir: string;
  let model: WhisperModel;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "host-attention-"));
    writeFloatModel(await packagedModel("tiny"), dir);
    model = await WhisperModel.load(dir, { device: "cpu", threads: 2 });
  }, 60_000);
  afterAll(async () => {
    await model?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it("gives the rows the step-by-step decoder keeps: one at the last prompt token, one per sampled token, cropped to the audio", async () => {
    const audio = await decodeWhole(sharedPath("data", "speech", "jfk", "jfk.wav"));
    const [hidden] = await model.encode([audio]);
    const audioFrames = Math.ceil(audio.length / 320);
    const [stepwise] = await decodeBatch(model, [{ hidden: hidden!, language: "en", audioFrames, seed: 0 }], {
      task: "transcribe",
      temperature: 0,
      timestamps: true,
      attention: true,
      maxInitialTimestampSec: 1,
    });
    const { vocab } = model;
    const context = [vocab.sot, vocab.languageToken("en")!, vocab.tasks.transcribe!];
    const rows = await hostAttention(model, hidden!, context, stepwise!.tokens, audioFrames);
    expect(stepwise!.tokens.length).toBeGreaterThan(20);
    expect(rows.length).toBe(vocab.alignmentHeads.length);
    let worst = 0;
    rows.forEach((head, h) => {
      expect(head.length).toBe(stepwise!.tokens.length + 1);
      head.forEach((row, t) => {
        const kept = stepwise!.attention![h]![t]!;
        expect(row.length).toBe(audioFrames);
        for (let f = 0; f < row.length; f++) worst = Math.max(worst, Math.abs(row[f]! - kept[f]!));
      });
    });
    expect(worst).toBeLessThan(1e-4);
  }, 60_000);
});
