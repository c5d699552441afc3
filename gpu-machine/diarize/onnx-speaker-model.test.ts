import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeWhole } from "../../test/support/media-files.ts";
import { missingShared, sharedPath } from "../../test/support/shared-data.ts";
import { floatTensor } from "../engine/float-graphs.ts";
import { KaldiFbank, type KaldiWindow } from "./kaldi-fbank.ts";
import { loadOnnxSpeakerModel, MAX_WINDOW_SAMPLES } from "./onnx-speaker-model.ts";
import { mulberry32 as seeded } from "../../shared/mulberry32.ts";

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const BINS = 80;
const DIMS = 192;

/** The fixed random projection every test model applies, bins × dims, row by row. */
function projection(rows: number, cols: number): Float32Array {
  const next = seeded(2024);
  return Float32Array.from({ length: rows * cols }, () => (next() * 2 - 1) / Math.sqrt(rows));
}

function valueInfo(name: string, dims: Array<number | string>): onnxProto.onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  });
}

interface ModelSpec {
  metadata?: Record<string, string>;
  /** The input's declared shape; [N, T, 80] as WeSpeaker exports it. */
  input?: Array<number | string>;
  /** The output's declared shape; [N, 192]. */
  output?: Array<number | string>;
  dims?: number;
}

/** sherpa-onnx's metadata for a WeSpeaker export (scripts/wespeaker/add_meta_data.py). */
const WESPEAKER_METADATA = {
  framework: "wespeaker",
  language: "English",
  url: "https://github.com/wenet-e2e/wespeaker/blob/master/docs/pretrained.md",
  comment: "a fixed random projection made by the test",
  sample_rate: "16000",
  output_dim: String(DIMS),
  normalize_samples: "0",
};

/**
 * A stand-in for a speaker network with the export's interface: feats [N, T, 80]
 * → the mean over T of the squared features (the spread half of statistics
 * pooling; the plain mean of mean-normalised features is zero by construction)
 * → a fixed random 80 × D projection → embs [N, D]. A rank-2 input gives the
 * wrongly shaped export the loader must refuse.
 */
function speakerModel(spec: ModelSpec = {}): Uint8Array {
  const dims = spec.dims ?? DIMS;
  const input = spec.input ?? ["N", "T", BINS];
  const rank3 = input.length === 3;
  const last = input[input.length - 1];
  const bins = typeof last === "number" ? last : BINS;
  const node = (opType: string, inputs: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []) =>
    onnx.NodeProto.create({ name: output, opType, input: inputs, output: [output], attribute });
  const graph = onnx.GraphProto.create({
    name: "speaker_stand_in",
    initializer: [floatTensor("projection", [bins, dims], projection(bins, dims))],
    node: rank3
      ? [
          node("Mul", ["feats", "feats"], "squares"),
          node("ReduceMean", ["squares"], "pooled", [
            onnx.AttributeProto.create({ name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }),
            onnx.AttributeProto.create({ name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
          ]),
          node("MatMul", ["pooled", "projection"], "embs"),
        ]
      : [node("MatMul", ["feats", "projection"], "embs")],
    input: [valueInfo("feats", input)],
    output: [valueInfo("embs", spec.output ?? ["N", dims])],
  });
  const metadataProps = Object.entries(spec.metadata ?? WESPEAKER_METADATA).map(([key, value]) => ({ key, value }));
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: "test", opsetImport: [{ domain: "", version: 17 }], graph, metadataProps });
  return onnx.ModelProto.encode(model).finish();
}

interface FrontEnd {
  window: KaldiWindow;
  sampleScale: number;
  meanNormalize: boolean;
}
const WESPEAKER: FrontEnd = { window: "hamming", sampleScale: 32768, meanNormalize: true };
const THREE_D_SPEAKER: FrontEnd = { window: "povey", sampleScale: 1, meanNormalize: true };

/** What the stand-in should give, computed here in float64 from the fbank: unit-normalised. */
function expectedEmbedding(audio: Float32Array, frontEnd: FrontEnd, dims = DIMS, bins = BINS): Float64Array {
  const { frames, data } = new KaldiFbank({ window: frontEnd.window, sampleScale: frontEnd.sampleScale, numMelBins: bins }).compute(audio);
  const pooled = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    let mean = 0;
    if (frontEnd.meanNormalize) {
      for (let f = 0; f < frames; f++) mean += data[f * bins + b]!;
      mean /= frames;
    }
    for (let f = 0; f < frames; f++) pooled[b]! += (data[f * bins + b]! - mean) ** 2 / frames;
  }
  const w = projection(bins, dims);
  const e = new Float64Array(dims);
  for (let b = 0; b < bins; b++) for (let d = 0; d < dims; d++) e[d]! += pooled[b]! * w[b * dims + d]!;
  return unit(e);
}

function unit(v: ArrayLike<number>): Float64Array {
  const norm = Math.hypot(...Array.from(v));
  return Float64Array.from(v, (x) => x / norm);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const SPEECH = "data/speech/librispeech-test-other";
// Two speakers (the speaker id is the file name's prefix): 9.1 s, one window; 15.0 s, two.
const SHORT = `${SPEECH}/2033-164914-0000.flac`;
const LONG = `${SPEECH}/1688-142285-0000.flac`;
const need = missingShared(SHORT, LONG);

let root: string;
let count = 0;
/** A fresh folder holding the given files. */
function modelDir(files: Record<string, Uint8Array>): string {
  const dir = join(root, `m${count++}`);
  mkdirSync(dir);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "speaker-model-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(need.missing)("loadOnnxSpeakerModel on real speech", () => {
  let short: Float32Array;
  let long: Float32Array;
  beforeAll(async () => {
    [short, long] = await Promise.all([decodeWhole(sharedPath(SHORT)), decodeWhole(sharedPath(LONG))]);
  });

  it("embeds as the stand-in's projection of the mean-normalised fbank, unit length, 192 dims", async () => {
    const model = await loadOnnxSpeakerModel(modelDir({ "voxceleb_resnet34.onnx": speakerModel() }), { threads: 1 });
    expect(model.name).toBe("onnx:voxceleb_resnet34.onnx");
    expect(model.dims).toBe(DIMS);
    const e = await model.embed(short);
    expect(e).toBeInstanceOf(Float32Array);
    expect(e.length).toBe(DIMS);
    expect(Math.hypot(...e)).toBeCloseTo(1, 5);
    expect(maxAbsDiff(e, expectedEmbedding(short, WESPEAKER))).toBeLessThan(1e-4);
  });

  it("averages ≤ 10 s windows of long audio, each unit-normalised, weighted by length", async () => {
    const model = await loadOnnxSpeakerModel(modelDir({ "model.onnx": speakerModel() }));
    // 15 s: two windows of 7.5 s. 25 s (long + short + 0.9 s): three of about 8.4 s. Equal windows
    // (to a sample) make the length weights all but equal; what this pins is that each window is
    // embedded and unit-normalised on its own before the average.
    for (const audio of [long, Float32Array.from([...long, ...short, ...long.subarray(0, 14_400)])]) {
      const windows = Math.ceil(audio.length / MAX_WINDOW_SAMPLES);
      expect(windows).toBeGreaterThan(1);
      const sum = new Float64Array(DIMS);
      for (let w = 0; w < windows; w++) {
        const part = audio.subarray(Math.round((w * audio.length) / windows), Math.round(((w + 1) * audio.length) / windows));
        expect(part.length).toBeLessThanOrEqual(MAX_WINDOW_SAMPLES);
        const e = expectedEmbedding(part, WESPEAKER);
        for (let d = 0; d < DIMS; d++) sum[d]! += part.length * e[d]!;
      }
      const got = await model.embed(audio);
      expect(maxAbsDiff(got, unit(sum))).toBeLessThan(1e-4);
      // Not the whole file as one window: its statistics differ from the windows' average.
      expect(maxAbsDiff(got, expectedEmbedding(audio, WESPEAKER))).toBeGreaterThan(1e-3);
    }
  });

  it("embeds two LibriSpeech voices (speakers 2033 and 1688) without error", async () => {
    const model = await loadOnnxSpeakerModel(modelDir({ "model.onnx": speakerModel() }));
    const [a, b] = await Promise.all([model.embed(short), model.embed(long)]);
    for (const e of [a!, b!]) {
      expect(e.every(Number.isFinite)).toBe(true);
      expect(Math.hypot(...e)).toBeCloseTo(1, 5);
    }
    // A random projection separates nothing; this only shows the two are computed from their own audio.
    expect(maxAbsDiff(a!, b!)).toBeGreaterThan(1e-3);
  });

  it("follows 3D-Speaker's front end when the metadata says so (povey window, samples in [-1, 1])", async () => {
    const metadata = { framework: "3d-speaker", sample_rate: "16000", output_dim: String(DIMS), normalize_samples: "1", feature_normalize_type: "global-mean" };
    const model = await loadOnnxSpeakerModel(modelDir({ "campplus.onnx": speakerModel({ metadata }) }));
    const e = await model.embed(short);
    expect(maxAbsDiff(e, expectedEmbedding(short, THREE_D_SPEAKER))).toBeLessThan(1e-4);
    expect(maxAbsDiff(e, expectedEmbedding(short, WESPEAKER))).toBeGreaterThan(1e-3);
  });

  it("honours normalize_samples and feature_normalize_type over the framework's defaults", async () => {
    // Half a second of digital silence first: its frames sit on the log floor whatever the
    // scale, so the sample scale shows after mean normalisation.
    const padded = new Float32Array(8000 + short.length);
    padded.set(short, 8000);
    const cases: Array<[Record<string, string>, FrontEnd]> = [
      [{ framework: "wespeaker", normalize_samples: "0" }, WESPEAKER],
      [
        { framework: "wespeaker", normalize_samples: "1" },
        { ...WESPEAKER, sampleScale: 1 },
      ],
      // sherpa-onnx's first WeSpeaker script wrote the flag under this name.
      [
        { framework: "wespeaker", normalize_features: "1" },
        { ...WESPEAKER, sampleScale: 1 },
      ],
      [
        { framework: "wespeaker", feature_normalize_type: "" },
        { ...WESPEAKER, meanNormalize: false },
      ],
      // No metadata at all: WeSpeaker's recipe.
      [{}, WESPEAKER],
    ];
    const seen: Float32Array[] = [];
    for (const [metadata, frontEnd] of cases) {
      const model = await loadOnnxSpeakerModel(modelDir({ "model.onnx": speakerModel({ metadata }) }));
      const e = await model.embed(padded);
      expect(maxAbsDiff(e, expectedEmbedding(padded, frontEnd)), JSON.stringify(metadata)).toBeLessThan(1e-4);
      seen.push(e);
    }
    expect(maxAbsDiff(seen[0]!, seen[1]!)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(seen[0]!, seen[3]!)).toBeGreaterThan(1e-3);
  });

  it("takes another number of mel bins, or a symbolic one, when the metadata names it", async () => {
    const bins64 = await loadOnnxSpeakerModel(modelDir({ "model.onnx": speakerModel({ input: ["N", "T", 64], metadata: { num_mel_bins: "64" } }) }));
    expect(maxAbsDiff(await bins64.embed(short), expectedEmbedding(short, WESPEAKER, DIMS, 64))).toBeLessThan(1e-4);
    const symbolic = await loadOnnxSpeakerModel(modelDir({ "model.onnx": speakerModel({ input: ["N", "T", "F"], metadata: { num_mel_bins: "80" } }) }));
    expect(maxAbsDiff(await symbolic.embed(short), expectedEmbedding(short, WESPEAKER))).toBeLessThan(1e-4);
  });

  it("finds the size from a first run when neither the shape nor the metadata gives it", async () => {
    const { output_dim: _, ...metadata } = WESPEAKER_METADATA;
    const model = await loadOnnxSpeakerModel(modelDir({ "model.onnx": speakerModel({ metadata, output: ["N", "D"], dims: 256 }) }));
    expect(model.dims).toBe(256);
    expect(maxAbsDiff(await model.embed(short), expectedEmbedding(short, WESPEAKER, 256))).toBeLessThan(1e-4);
  });
});

describe("loadOnnxSpeakerModel refuses what it cannot use", () => {
  it("a folder with no model, or several and no model.onnx, or none at all", async () => {
    const empty = modelDir({ "README.md": new Uint8Array(1) });
    await expect(loadOnnxSpeakerModel(empty)).rejects.toThrow(`${empty}: no .onnx file; expected one WeSpeaker or 3D-Speaker export`);
    const two = modelDir({ "a.onnx": speakerModel(), "b.onnx": speakerModel() });
    await expect(loadOnnxSpeakerModel(two)).rejects.toThrow(`${two}: 2 .onnx files (a.onnx, b.onnx) and none named model.onnx`);
    await expect(loadOnnxSpeakerModel(join(root, "absent"))).rejects.toThrow(/absent: cannot list the speaker model folder \(ENOENT\)/);
  });

  it("picks model.onnx among several", async () => {
    const model = await loadOnnxSpeakerModel(modelDir({ "a.onnx": new Uint8Array([1, 2, 3]), "model.onnx": speakerModel() }));
    expect(model.name).toBe("onnx:model.onnx");
  });

  it("an input that is not [N, T, 80] fbank frames, naming the file and the expected layout", async () => {
    const rank2 = modelDir({ "flat.onnx": speakerModel({ input: ["N", BINS] }) });
    await expect(loadOnnxSpeakerModel(rank2)).rejects.toThrow(
      `${join(rank2, "flat.onnx")}: inputs "feats" float32 [N, 80]; expected one float32 input [N, T, 80] of Kaldi fbank frames (the WeSpeaker / 3D-Speaker layout)`,
    );
    const bins64 = modelDir({ "m.onnx": speakerModel({ input: ["N", "T", 64] }) });
    await expect(loadOnnxSpeakerModel(bins64)).rejects.toThrow(`${join(bins64, "m.onnx")}: input "feats" float32 [N, T, 64]: its last dimension is not 80`);
    const symbolic = modelDir({ "m.onnx": speakerModel({ input: ["N", "T", "F"] }) });
    await expect(loadOnnxSpeakerModel(symbolic)).rejects.toThrow(/its last dimension is not 80.*metadata num_mel_bins/);
  });

  it("metadata it cannot honour", async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ framework: "nemo" }, `metadata framework="nemo": its features are not Kaldi fbank; expected wespeaker or 3d-speaker`],
      [{ framework: "wespeaker", sample_rate: "8000" }, "metadata sample_rate=8000; the machine's audio is 16000 Hz"],
      [{ normalize_samples: "yes" }, `metadata normalize_samples="yes"`],
      [{ feature_normalize_type: "per-utterance-cmvn" }, `metadata feature_normalize_type="per-utterance-cmvn"`],
      [{ output_dim: "256" }, `output "embs" float32 [N, 192] disagrees with metadata output_dim=256`],
    ];
    for (const [metadata, message] of cases) {
      const dir = modelDir({ "model.onnx": speakerModel({ metadata }) });
      await expect(loadOnnxSpeakerModel(dir), message).rejects.toThrow(`${join(dir, "model.onnx")}: ${message}`);
    }
  });

  it("embeddings over 512 dimensions, and a file that is not ONNX", async () => {
    const wide = modelDir({ "model.onnx": speakerModel({ dims: 600, metadata: {} }) });
    await expect(loadOnnxSpeakerModel(wide)).rejects.toThrow("embeddings of 600 dimensions; expected 1 to 512");
    const junk = modelDir({ "model.onnx": new TextEncoder().encode("not a model at all") });
    await expect(loadOnnxSpeakerModel(junk)).rejects.toThrow(`${join(junk, "model.onnx")}: not a readable ONNX model`);
  });

  it("audio shorter than half a second", async () => {
    const model = await loadOnnxSpeakerModel(modelDir({ "model.onnx": speakerModel() }));
    await expect(model.embed(new Float32Array(7999))).rejects.toThrow(RangeError);
    const noise = seeded(7);
    expect((await model.embed(Float32Array.from({ length: 8000 }, () => noise() - 0.5))).length).toBe(DIMS);
  });
});
