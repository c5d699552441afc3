import onnxProto from "onnx-proto";
import { FloatGraphError, floats, graphs } from "./float-graphs.ts";

/**
 * Rewrites a float32 graph (float-graphs.ts makes one from the q8 weights)
 * into float16 inside, keeping every graph input and output float32 under its
 * own name: a Cast to float16 after each float input, a Cast back before each
 * float output. Weights, constants, Casts to float and the types of inner
 * values become float16, in subgraphs too. Values beyond float16's range are
 * clamped to ±65504 (attention masks use float32's minimum), so nothing
 * becomes infinite that was finite.
 */

const { onnx } = onnxProto;
type Model = onnxProto.onnx.IModelProto;
type Tensor = onnxProto.onnx.ITensorProto;
type ValueInfo = onnxProto.onnx.IValueInfoProto;
const DataType = onnx.TensorProto.DataType;
const AttributeType = onnx.AttributeProto.AttributeType;

export interface Float16Stats {
  tensors: number;
  /** Weights and constants written as float16, in values. */
  values: number;
  casts: number;
}

export function toFloat16(model: Model): Float16Stats {
  const root = model.graph;
  if (!root) throw new FloatGraphError("the model has no graph");
  const stats: Float16Stats = { tensors: 0, values: 0, casts: 0 };
  const all = [...graphs(root)];
  // Graph-level float inputs and outputs of the outer graph stay float32: rename their inner uses.
  // Inputs are read in subgraphs too (outer-scope values); outputs are the outer graph's own:
  // a branch output of the same name is the branch's, and stays.
  const renames = new Map<string, string>();
  const outputRenames = new Map<string, string>();
  const castsIn = (root.input ?? []).filter(isFloat).map((i) => {
    renames.set(i.name!, `${i.name}__fp16`);
    return onnx.NodeProto.create({
      name: `${i.name}__to_fp16`,
      opType: "Cast",
      input: [i.name!],
      output: [`${i.name}__fp16`],
      attribute: [castTo(DataType.FLOAT16)],
    });
  });
  const castsOut = (root.output ?? []).filter(isFloat).map((o) => {
    outputRenames.set(o.name!, `${o.name}__fp16`);
    return onnx.NodeProto.create({
      name: `${o.name}__to_fp32`,
      opType: "Cast",
      input: [`${o.name}__fp16`],
      output: [o.name!],
      attribute: [castTo(DataType.FLOAT)],
    });
  });
  for (const g of all) {
    const names = g === root ? new Map([...renames, ...outputRenames]) : renames;
    for (const n of g.node ?? []) {
      n.input = (n.input ?? []).map((x) => names.get(x) ?? x);
      n.output = (n.output ?? []).map((x) => names.get(x) ?? x);
      for (const a of n.attribute ?? []) {
        if (n.opType === "Cast" && a.name === "to" && Number(a.i) === DataType.FLOAT) a.i = DataType.FLOAT16;
        if (a.t && a.t.dataType === DataType.FLOAT) convert(a.t, stats);
        for (const t of a.tensors ?? []) if (t.dataType === DataType.FLOAT) convert(t, stats);
      }
    }
    for (const t of g.initializer ?? []) if (t.dataType === DataType.FLOAT) convert(t, stats);
    // Inner values (and a subgraph's own inputs and outputs) carry the new type.
    const inner = [...(g.valueInfo ?? []), ...(g === root ? [] : [...(g.input ?? []), ...(g.output ?? [])])];
    for (const v of inner) if (isFloat(v)) v.type!.tensorType!.elemType = DataType.FLOAT16;
  }
  root.node = [...castsIn, ...(root.node ?? []), ...castsOut];
  stats.casts = castsIn.length + castsOut.length;
  // Value infos named like the outer inputs and outputs now describe the float16 copies.
  for (const v of root.valueInfo ?? []) v.name = renames.get(v.name!) ?? outputRenames.get(v.name!) ?? v.name;
  return stats;
}

function isFloat(v: ValueInfo): boolean {
  return v.type?.tensorType?.elemType === DataType.FLOAT;
}

function castTo(type: number) {
  return onnx.AttributeProto.create({ name: "to", type: AttributeType.INT, i: type });
}

function convert(t: Tensor, stats: Float16Stats): void {
  const values = floats(t);
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = toHalf(values[i]!);
  t.dataType = DataType.FLOAT16;
  t.rawData = new Uint8Array(half.buffer);
  t.floatData = [];
  stats.tensors += 1;
  stats.values += values.length;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half from a float, rounding to nearest even; finite values beyond ±65504 are clamped to it. */
export function toHalf(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const clamped = Number.isFinite(value) ? Math.max(-65504, Math.min(65504, value)) : value;
  f32[0] = clamped;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00; // infinity
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7bff;
  if (e <= 0) {
    // Subnormal in half (or zero): shift the mantissa with its hidden bit in, rounding to nearest even.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}
