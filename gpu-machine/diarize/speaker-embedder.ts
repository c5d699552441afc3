export interface SpeakerEmbedder {
  readonly name: string; // "onnx:<file name>"
  readonly dims: number; // ≤ 512, read from the output shape or metadata, else from a first run
  embed(audio: Float32Array): Promise<Float32Array>; // 16 kHz mono speech of one speaker, ≥ 0.5 s; returns a unit-length vector
}
