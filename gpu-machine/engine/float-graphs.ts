import onnxProto from "onnx-proto";

/**
 * Rewrites a dynamically quantized ONNX export (what `quantize_dynamic` makes
 * and the npm-packaged Whisper weights are) into a plain float graph, which
 * GPU execution providers want: each
 *
 *   x → DynamicQuantizeLinear → MatMulInteger(x_q, W_q, x_zp, W_zp) → Cast → Mul(·, x_scale · W_scale)
 *
 * becomes MatMul(x, W) with W = (W_q − W_zp) · W_scale dequantized once here,
 * and ConvInteger likewise becomes Conv. Every graph input and output keeps
 * its name and type, so the engine loads the result unchanged. Subgraphs (the
 * merged decoder's If branches) are rewritten too.
 */

const { onnx } = onnxProto;
type Model = onnxProto.onnx.IModelProto;
type Graph = onnxProto.onnx.IGraphProto;
type Node = onnxProto.onnx.INodeProto;
type Tensor = onnxProto.onnx.ITensorProto;
const DataType = onnx.TensorProto.DataType;

export class FloatGraphError extends Error {
  override readonly name = "FloatGraphError";
}

export interface FloatStats {
  matmuls: number;
  convs: number;
  /** DequantizeLinear nodes written as float arithmetic (the decoder's tied embedding). */
  folded: number;
  /** Float weights written, in parameters. */
  parameters: number;
}

export function decodeModel(bytes: Uint8Array): Model {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: Model): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Op types in a model, subgraphs included: what a test or a log checks the rewrite by. */
export function opCounts(model: Model): Map<string, number> {
  const counts = new Map<string, number>();
  for (const g of graphs(model.graph!)) for (const n of g.node ?? []) counts.set(n.opType!, (counts.get(n.opType!) ?? 0) + 1);
  return counts;
}

/** Rewrites `model` in place into float32 weights and float ops; returns what it changed. */
export function dequantizeModel(model: Model): FloatStats {
  const root = model.graph;
  if (!root) throw new FloatGraphError("the model has no graph");
  const stats: FloatStats = { matmuls: 0, convs: 0, folded: 0, parameters: 0 };
  const initializers = new Map<string, { tensor: Tensor; owner: Graph }>();
  for (const g of graphs(root)) for (const t of g.initializer ?? []) initializers.set(t.name!, { tensor: t, owner: g });
  // Names are unique across the model, and a branch reads its outer graph's values (the merged
  // decoder quantizes encoder_hidden_states once, outside its If).
  const producer = new Map<string, Node>();
  for (const g of graphs(root)) for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const written = new Map<string, string>();
  for (const g of graphs(root)) rewriteGraph(g, producer, initializers, written, stats);
  for (const g of graphs(root)) expandDequantize(g, producer, initializers, stats);
  dropDangling(root);
  dropUnused(root);
  return stats;
}

/** A graph and every graph nested in its nodes' attributes, outermost first. */
export function* graphs(g: Graph): Generator<Graph> {
  yield g;
  for (const n of g.node ?? [])
    for (const a of n.attribute ?? []) {
      if (a.g) yield* graphs(a.g);
      for (const sub of a.graphs ?? []) yield* graphs(sub);
    }
}

function rewriteGraph(
  g: Graph,
  producer: ReadonlyMap<string, Node>,
  initializers: Map<string, { tensor: Tensor; owner: Graph }>,
  written: Map<string, string>,
  stats: FloatStats,
): void {
  const nodes = g.node ?? [];
  const consumers = (name: string) => nodes.filter((n) => (n.input ?? []).includes(name));
  const removed = new Set<Node>();
  const replacement = new Map<Node, Node>();
  for (const n of nodes) {
    if (n.opType !== "MatMulInteger" && n.opType !== "ConvInteger") continue;
    const [aQ, bQ, , bZp] = n.input ?? [];
    const quantize = producer.get(aQ ?? "");
    if (quantize?.opType !== "DynamicQuantizeLinear") throw new FloatGraphError(`${n.name}: its input ${aQ} does not come from DynamicQuantizeLinear`);
    const weight = initializers.get(bQ ?? "");
    if (!weight) throw new FloatGraphError(`${n.name}: its weight ${bQ} is not an initializer (activation × activation is not a dynamic-quantization pattern)`);
    const cast = single(consumers(n.output![0]!), "Cast", n);
    const mul = single(consumers(cast.output![0]!), "Mul", cast);
    const scaleName = mul.input!.find((x) => x !== cast.output![0]);
    const scaleMul = producer.get(scaleName ?? "");
    const weightScaleName = scaleMul?.opType === "Mul" ? scaleMul.input!.find((x) => initializers.has(x)) : scaleName;
    const weightScale = initializers.get(weightScaleName ?? "");
    if (!weightScale) throw new FloatGraphError(`${n.name}: no weight scale found after it (looked for Mul(Cast, x_scale · W_scale))`);
    const zeroPoint = bZp ? initializers.get(bZp)?.tensor : undefined;
    const axis = n.opType === "MatMulInteger" ? "last" : "first";
    const floatName = `${bQ}_dequantized`;
    if (!written.has(bQ!)) {
      const tensor = dequantize(weight.tensor, zeroPoint, weightScale.tensor, axis, floatName);
      weight.owner.initializer!.push(tensor);
      written.set(bQ!, floatName);
      stats.parameters += (tensor.dims ?? []).reduce<number>((p, d) => p * Number(d), 1);
    }
    const float = onnx.NodeProto.create({
      name: `${n.name ?? bQ}_float`,
      opType: n.opType === "MatMulInteger" ? "MatMul" : "Conv",
      input: [quantize.input![0]!, written.get(bQ!)!],
      output: [mul.output![0]!],
      // ConvInteger's attributes (kernel, pads, strides, dilations, group) are Conv's.
      attribute: n.opType === "ConvInteger" ? (n.attribute ?? []) : [],
    });
    if (n.opType === "MatMulInteger") stats.matmuls += 1;
    else stats.convs += 1;
    replacement.set(n, float);
    removed.add(cast).add(mul);
  }
  if (replacement.size === 0) return;
  g.node = nodes.filter((n) => !removed.has(n)).map((n) => replacement.get(n) ?? n);
}

/**
 * DequantizeLinear (the decoder's tied embedding: gathered rows, and the
 * transposed table for the logits) becomes the float arithmetic it stands for,
 * Mul(Sub(Cast(x), zero point), scale), which every provider runs in any float
 * type; onnxruntime folds the parts that read only weights when it loads.
 */
function expandDequantize(g: Graph, producer: ReadonlyMap<string, Node>, initializers: Map<string, { tensor: Tensor; owner: Graph }>, stats: FloatStats): void {
  const nodes: Node[] = [];
  for (const n of g.node ?? []) {
    if (n.opType !== "DequantizeLinear") {
      nodes.push(n);
      continue;
    }
    const [x, scaleName, zpName] = n.input ?? [];
    const scale = initializers.get(scaleName ?? "")?.tensor;
    const zpEntry = zpName ? initializers.get(zpName) : undefined;
    const zp = zpEntry?.tensor;
    if (!scale || (zpName && !zp)) throw new FloatGraphError(`${n.name}: a DequantizeLinear whose scale or zero point is not a weight`);
    if (floats(scale).length > 1) throw new FloatGraphError(`${n.name}: a per-axis DequantizeLinear is not expanded`);
    const out = n.output![0]!;
    // The logits' transposed embedding table: fold it here, once, into a float weight.
    const transpose = producer.get(x ?? "");
    const weight = transpose?.opType === "Transpose" ? initializers.get(transpose.input![0]!) : undefined;
    if (weight && (weight.tensor.dims ?? []).length === 2) {
      // Both branches of the merged decoder read it: one weight, made once, beside the table it comes from.
      if (!initializers.has(out)) {
        const [rows, cols] = (weight.tensor.dims ?? []).map(Number) as [number, number];
        const flat = dequantizedValues(weight.tensor, zp, scale, "last");
        const t = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = flat[r * cols + c]!;
        const tensor = floatTensor(out, [cols, rows], t);
        weight.owner.initializer = [...(weight.owner.initializer ?? []), tensor];
        initializers.set(out, { tensor, owner: weight.owner });
        stats.parameters += rows * cols;
      }
      stats.folded += 1;
      continue;
    }
    const cast = `${out}__as_float`;
    nodes.push(
      onnx.NodeProto.create({
        name: `${n.name}__cast`,
        opType: "Cast",
        input: [x!],
        output: [cast],
        attribute: [onnx.AttributeProto.create({ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT })],
      }),
    );
    let centered = cast;
    if (zp) {
      const zpFloat = floatTensor(`${zpName}__float`, [], new Float32Array([integers(zp)[0]!]));
      if (!initializers.has(zpFloat.name!)) {
        // Beside the zero point it stands for, so that every branch that sees one sees the other.
        const owner = zpEntry!.owner;
        owner.initializer = [...(owner.initializer ?? []), zpFloat];
        initializers.set(zpFloat.name!, { tensor: zpFloat, owner });
      }
      centered = `${out}__centered`;
      nodes.push(onnx.NodeProto.create({ name: `${n.name}__center`, opType: "Sub", input: [cast, zpFloat.name!], output: [centered] }));
    }
    nodes.push(onnx.NodeProto.create({ name: `${n.name}__scale`, opType: "Mul", input: [centered, scaleName!], output: [out] }));
    stats.folded += 1;
  }
  g.node = nodes;
}

/**
 * The scale products and quantizers the rewrite left feeding nothing, in any
 * graph, until none is left; and the value infos of what is gone.
 */
function dropDangling(root: Graph): void {
  for (;;) {
    const needed = new Set<string>();
    for (const g of graphs(root)) {
      for (const o of g.output ?? []) needed.add(o.name!);
      for (const n of g.node ?? []) for (const i of n.input ?? []) needed.add(i);
    }
    let dropped = 0;
    for (const g of graphs(root)) {
      const before = g.node?.length ?? 0;
      g.node = (g.node ?? []).filter(
        (n) => !(["Mul", "DynamicQuantizeLinear", "Transpose"].includes(n.opType!) && (n.output ?? []).every((o) => !needed.has(o))),
      );
      dropped += before - g.node.length;
    }
    if (dropped === 0) break;
  }
  for (const g of graphs(root)) {
    const live = new Set([...(g.node ?? []).flatMap((n) => n.output ?? []), ...(g.output ?? []).map((o) => o.name!)]);
    g.valueInfo = (g.valueInfo ?? []).filter((v) => live.has(v.name!));
  }
}

function single(nodes: Node[], opType: string, after: Node): Node {
  if (nodes.length !== 1 || nodes[0]!.opType !== opType) {
    throw new FloatGraphError(`${after.name}: expected one ${opType} after it, found ${nodes.map((n) => n.opType).join(", ") || "none"}`);
  }
  return nodes[0]!;
}

/** (W_q − zero point) · scale, per tensor or per channel (MatMul: the output column; Conv: the output channel). */
function dequantize(weight: Tensor, zeroPoint: Tensor | undefined, scale: Tensor, axis: "first" | "last", name: string): Tensor {
  return floatTensor(name, (weight.dims ?? []).map(Number), dequantizedValues(weight, zeroPoint, scale, axis));
}

export function floatTensor(name: string, dims: number[], values: Float32Array): Tensor {
  return onnx.TensorProto.create({ name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) });
}

function dequantizedValues(weight: Tensor, zeroPoint: Tensor | undefined, scale: Tensor, axis: "first" | "last"): Float32Array {
  const dims = (weight.dims ?? []).map(Number);
  const q = integers(weight);
  const zp = zeroPoint ? integers(zeroPoint) : new Int32Array([0]);
  const s = floats(scale);
  if (zp.length === 0 || s.length === 0) throw new FloatGraphError(`${weight.name}: its zero point or scale holds no value`);
  const channels = axis === "last" ? dims.at(-1)! : dims[0]!;
  const inner = axis === "last" ? 1 : q.length / channels;
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const c = s.length === 1 && zp.length === 1 ? 0 : axis === "last" ? i % channels : Math.floor(i / inner);
    out[i] = (q[i]! - zp[zp.length === 1 ? 0 : c]!) * s[s.length === 1 ? 0 : c]!;
  }
  return out;
}

function integers(t: Tensor): Int32Array {
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  switch (t.dataType) {
    case DataType.UINT8:
      return Int32Array.from(raw ?? t.int32Data ?? []);
    case DataType.INT8:
      return raw ? Int32Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength)) : Int32Array.from(t.int32Data ?? []);
    default:
      throw new FloatGraphError(`${t.name}: a quantized weight of data type ${t.dataType}, not uint8 or int8`);
  }
}

export function floats(t: Tensor): Float32Array {
  if (t.dataType !== DataType.FLOAT) throw new FloatGraphError(`${t.name}: a scale of data type ${t.dataType}, not float`);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  if (!raw) return Float32Array.from(t.floatData ?? []);
  // Raw data is a view into the decoded file, at any offset: read it little-endian, as ONNX stores it.
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Float32Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** Initializers no graph reads any more (the quantized weights, zero points and scales). */
function dropUnused(root: Graph): void {
  const read = new Set<string>();
  for (const g of graphs(root)) {
    for (const n of g.node ?? []) for (const i of n.input ?? []) read.add(i);
    for (const o of g.output ?? []) read.add(o.name!);
  }
  for (const g of graphs(root)) g.initializer = (g.initializer ?? []).filter((t) => read.has(t.name!));
}
