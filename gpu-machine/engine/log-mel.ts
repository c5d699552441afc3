import onnxProto from "onnx-proto";
import { SAMPLE_RATE } from "../media/pcm.ts";
import { floatTensor } from "./float-graphs.ts";

/** Whisper's front end: 25 ms windows every 10 ms over a 30 s window of 16 kHz audio. */
export const N_FFT = 400;
export const HOP = 160;
export const WINDOW_SAMPLES = 480_000;
export const WINDOW_FRAMES = WINDOW_SAMPLES / HOP;
/** A window with half an FFT of reflection on each side. */
export const PADDED_SAMPLES = WINDOW_SAMPLES + N_FFT;
const N_BINS = N_FFT / 2 + 1;

// Slaney's mel scale as librosa computes it (htk = false): linear below 1 kHz, log above.
const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOG_STEP = Math.log(6.4) / 27;

function hzToMel(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP : hz / F_SP;
}

function melToHz(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

/** One filter's non-zero weights and the first FFT bin they apply to. */
export interface MelFilter {
  firstBin: number;
  weights: Float32Array;
}

/**
 * librosa.filters.mel(sr=16000, n_fft=400, n_mels, norm="slaney"), which is what
 * openai/whisper ships as mel_filters.npz. Computed rather than shipped so that any
 * export (80 or 128 bins) works from its config alone.
 */
export function melFilters(nMels: number, sampleRate = SAMPLE_RATE): MelFilter[] {
  const maxMel = hzToMel(sampleRate / 2);
  const melHz = Array.from({ length: nMels + 2 }, (_, i) => melToHz((maxMel * i) / (nMels + 1)));
  const binHz = Array.from({ length: N_BINS }, (_, k) => (k * sampleRate) / N_FFT);
  return Array.from({ length: nMels }, (_, m) => {
    const [lo, mid, hi] = [melHz[m]!, melHz[m + 1]!, melHz[m + 2]!];
    const norm = 2 / (hi - lo);
    const row = binHz.map((f) => Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid))) * norm);
    const first = row.findIndex((w) => w > 0);
    const last = row.length - 1 - [...row].reverse().findIndex((w) => w > 0);
    return first < 0 ? { firstBin: 0, weights: new Float32Array(0) } : { firstBin: first, weights: Float32Array.from(row.slice(first, last + 1)) };
  });
}

/**
 * Whisper's input for one chunk: the audio zero-padded or trimmed to 30 s, then
 * reflect-padded by half a window on each side as torch.stft(center=True) does.
 * Written into `out` at `offset` so a batch fills one buffer.
 */
export function padForStft(samples: Float32Array, out = new Float32Array(PADDED_SAMPLES), offset = 0): Float32Array {
  const half = N_FFT / 2;
  const audio = samples.subarray(0, WINDOW_SAMPLES);
  const at = (i: number) => (i < audio.length ? audio[i]! : 0);
  out.fill(0, offset, offset + PADDED_SAMPLES);
  out.set(audio, offset + half);
  for (let i = 1; i <= half; i++) {
    out[offset + half - i] = at(i);
    out[offset + half + WINDOW_SAMPLES - 1 + i] = at(WINDOW_SAMPLES - 1 - i);
  }
  return out;
}
/**
 * Whisper's log-mel front end as an ONNX graph, so that a GPU computes the
 * features beside the encoder instead of one CPU core doing it in JS (~90 ms
 * per 30 s window: a ceiling of ~330× real time by itself, below what a GPU
 * encoder and decoder reach).
 *
 *   audio [B, 480400] (already reflect-padded, see padForStft)
 *   → Conv with the Hann-windowed DFT as 402 kernels of 400 taps, stride 160
 *     (rows 0…200 the real parts, 201…401 the imaginary ones)
 *   → drop the last frame, square
 *   → MatMul with the mel filterbank written twice ([w, w]: re² + im² summed for free)
 *   → log10 with the 1e-10 floor, the window's max − 8 clamp, (x + 4) / 4
 *   → input_features [B, nMels, 3000], the encoder's input, as openai/whisper's log_mel_spectrogram.
 *
 * The padding stays in JS: it is a copy, and Pad's reflect mode is not
 * implemented alike by every execution provider.
 */

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;

/** Serialized ONNX model (opset 17) computing `input_features` from `audio`. */
export function logMelGraph(nMels: number): Uint8Array {
  const kernels = new Float32Array(2 * N_BINS * N_FFT);
  for (let k = 0; k < N_BINS; k++) {
    for (let n = 0; n < N_FFT; n++) {
      const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N_FFT);
      // (k·n) mod N keeps the angle small, so the float64 cosine is exact before rounding to float32.
      const angle = (2 * Math.PI * ((k * n) % N_FFT)) / N_FFT;
      kernels[k * N_FFT + n] = hann * Math.cos(angle);
      kernels[(N_BINS + k) * N_FFT + n] = -hann * Math.sin(angle);
    }
  }
  const mel = new Float32Array(nMels * 2 * N_BINS);
  melFilters(nMels).forEach(({ firstBin, weights }, m) => {
    mel.set(weights, m * 2 * N_BINS + firstBin);
    mel.set(weights, m * 2 * N_BINS + N_BINS + firstBin);
  });
  const node = (opType: string, input: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = []) =>
    onnx.NodeProto.create({ name: output, opType, input, output: [output], attribute });
  const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
  const graph = onnx.GraphProto.create({
    name: "whisper_log_mel",
    initializer: [
      floatTensor("dft", [2 * N_BINS, 1, 1, N_FFT], kernels),
      floatTensor("mel", [nMels, 2 * N_BINS], mel),
      longTensor("frame_axes", [1, 2]),
      longTensor("zero", [0]),
      longTensor("frames", [WINDOW_FRAMES]),
      longTensor("time_axis", [3]),
      longTensor("squeeze_axis", [2]),
      floatTensor("power_floor", [], Float32Array.of(1e-10)),
      floatTensor("inv_ln10", [], Float32Array.of(1 / Math.LN10)),
      floatTensor("eight", [], Float32Array.of(8)),
      floatTensor("four", [], Float32Array.of(4)),
      floatTensor("quarter", [], Float32Array.of(0.25)),
    ],
    node: [
      node("Unsqueeze", ["audio", "frame_axes"], "audio_4d"),
      node("Conv", ["audio_4d", "dft"], "spectrum", [ints("strides", [1, HOP]), ints("kernel_shape", [1, N_FFT])]),
      node("Slice", ["spectrum", "zero", "frames", "time_axis"], "spectrum_cut"),
      node("Mul", ["spectrum_cut", "spectrum_cut"], "squares_4d"),
      node("Squeeze", ["squares_4d", "squeeze_axis"], "squares"),
      node("MatMul", ["mel", "squares"], "mel_power"),
      node("Max", ["mel_power", "power_floor"], "mel_floored"),
      node("Log", ["mel_floored"], "mel_ln"),
      node("Mul", ["mel_ln", "inv_ln10"], "log_spec"),
      node("ReduceMax", ["log_spec"], "peak", [
        ints("axes", [1, 2]),
        onnx.AttributeProto.create({ name: "keepdims", type: onnx.AttributeProto.AttributeType.INT, i: 1 }),
      ]),
      node("Sub", ["peak", "eight"], "floor"),
      node("Max", ["log_spec", "floor"], "clamped"),
      node("Add", ["clamped", "four"], "shifted"),
      node("Mul", ["shifted", "quarter"], "input_features"),
    ],
    input: [valueInfo("audio", ["batch", PADDED_SAMPLES])],
    output: [valueInfo("input_features", ["batch", nMels, WINDOW_FRAMES])],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: "longscribe", opsetImport: [{ domain: "", version: 17 }], graph });
  return onnx.ModelProto.encode(model).finish();
}

function longTensor(name: string, values: number[]): onnxProto.onnx.ITensorProto {
  const data = BigInt64Array.from(values.map(BigInt));
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: DataType.INT64, rawData: new Uint8Array(data.buffer) });
}

function valueInfo(name: string, dims: Array<number | string>): onnxProto.onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  });
}
