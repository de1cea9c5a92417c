/**
 * A small typed builder for ONNX graphs. Values are named strings; `op`
 * appends a node and returns its output names, fresh and unique; weights
 * become initializers from typed arrays; graph inputs and outputs carry an
 * element type and a shape whose dimensions are sizes or symbolic names
 * ('batch', 'src_len'), so batch and sequence axes stay dynamic.
 * `toModel` wraps the graph in a ModelProto (opset, IR version, producer
 * "s2s"); `encode` gives the bytes of an .onnx file.
 */
import { AttributeType, DataType, encodeModel, type AttributeMessage, type ElemType, type ModelMessage, type NodeMessage, type TensorMessage, type ValueInfoMessage } from './proto.js';

export type { ElemType };

/** The default operator set (ai.onnx) of exported graphs: 17 has LayerNormalization and the GRU/LSTM s2s needs. */
export const OPSET = 17;
/** The IR version that goes with opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;
export const PRODUCER = 's2s';

/** A graph value (the output of a node, an initializer or a graph input), by name. */
export type Value = string;

/** One dimension of a graph input or output: a size, or a symbolic name such as 'batch'. */
export type Dim = number | string;

/** Element data of an initializer or constant. */
export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/**
 * An attribute value. Plain numbers are INT attributes (axis, hidden_size, …) and number arrays INTS;
 * floats must say so ({ float: 0.5 }, { floats: […] }), since ONNX rejects an INT where it wants a FLOAT.
 */
export type AttrValue = number | number[] | string | string[] | { float: number } | { floats: number[] } | { tensor: { data: TensorData; dims: number[]; type?: ElemType } };

export type Attributes = Record<string, AttrValue | undefined>;

/** A graph input or output as declared. */
export interface ValueSpec {
  name: string;
  type: ElemType;
  dims: Dim[];
  doc?: string;
}

export interface ModelOptions {
  /** The model's doc_string. */
  doc?: string;
  /** metadata_props of the ModelProto (string key → value). */
  metadata?: Record<string, string>;
  /** producer_version (the s2s version). Default ''. */
  producerVersion?: string;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function typeOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return 'float';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

/** Element bytes in little-endian order (ONNX raw_data), without a copy on little-endian machines. */
function rawBytes(data: TensorData): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndian || data.BYTES_PER_ELEMENT === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  const w = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += w) for (let k = 0; k < w; k++) out[i + k] = bytes[i + w - 1 - k];
  return out;
}

function tensorMessage(name: string, data: TensorData, dims: readonly number[], type: ElemType = typeOf(data)): TensorMessage {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`ONNX tensor ${name}: ${data.length} elements for dims [${dims.join(', ')}]`);
  return { name, dims: [...dims], dataType: DataType[type], rawData: rawBytes(data) };
}

const utf8 = new TextEncoder();

function attribute(name: string, value: AttrValue): AttributeMessage {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`ONNX attribute ${name}: ${value} is not an integer (use { float: ${value} })`);
    return { name, type: AttributeType.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: utf8.encode(value) };
  if (Array.isArray(value)) {
    if (value.every((v): v is string => typeof v === 'string')) return { name, type: AttributeType.STRINGS, strings: value.map((v) => utf8.encode(v)) };
    const ints = value as number[];
    if (!ints.every(Number.isInteger)) throw new Error(`ONNX attribute ${name}: [${ints.join(', ')}] are not all integers (use { floats: […] })`);
    return { name, type: AttributeType.INTS, ints };
  }
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  return { name, type: AttributeType.TENSOR, t: tensorMessage(name, value.tensor.data, value.tensor.dims, value.tensor.type) };
}

function valueInfo(spec: ValueSpec): ValueInfoMessage {
  return {
    name: spec.name,
    type: { tensorType: { elemType: DataType[spec.type], shape: { dim: spec.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    ...(spec.doc ? { docString: spec.doc } : {}),
  };
}

export class GraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly constants = new Map<string, Value>();

  constructor(readonly name: string) {}

  /** A name no value of this graph has yet: `base`, or `base_2`, `base_3`, … */
  fresh(base: string): Value {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'v';
    if (!this.names.has(clean)) {
      this.names.add(clean);
      return clean;
    }
    let n = this.counters.get(clean) ?? 1;
    let name: string;
    do name = `${clean}_${++n}`;
    while (this.names.has(name));
    this.counters.set(clean, n);
    this.names.add(name);
    return name;
  }

  private claim(name: string): Value {
    if (this.names.has(name)) throw new Error(`ONNX graph ${this.name}: the name ${name} is taken`);
    this.names.add(name);
    return name;
  }

  /** Declares a graph input; its name is exactly `name`. */
  input(name: string, type: ElemType, dims: Dim[], doc?: string): Value {
    this.inputs.push({ name: this.claim(name), type, dims, doc });
    return name;
  }

  /** Declares `value` as the graph output `name` (through an Identity when the value has another name). */
  output(value: Value, name: string, type: ElemType, dims: Dim[], doc?: string): Value {
    if (value !== name) this.nodes.push({ input: [value], output: [this.claim(name)], name: `${name}/identity`, opType: 'Identity', attribute: [] });
    this.outputs.push({ name, type, dims, doc });
    return name;
  }

  /** A weight or constant tensor stored in the graph (named after `name`, made unique). */
  initializer(name: string, data: TensorData, dims: readonly number[], type?: ElemType): Value {
    const unique = this.fresh(name);
    this.initializers.push(tensorMessage(unique, data, dims, type));
    return unique;
  }

  /** The initializer of a constant shared by every use with the same key (made by `make` the first time). */
  private shared(key: string, make: () => Value): Value {
    let v = this.constants.get(key);
    if (!v) {
      v = make();
      this.constants.set(key, v);
    }
    return v;
  }

  /** An int64 constant (shapes, axes, indices), shared by every use of the same values; dims default to a vector, [] is a scalar. */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.shared(`i64:${dims.join('x')}:${values.join(',')}`, () =>
      this.initializer(`const_i64_${values.length === 1 ? String(values[0]).replace('-', 'm') : 'v'}`, BigInt64Array.from(values, (x) => BigInt(x)), dims));
  }

  /** A float constant shared by every use of the same values; dims default to a scalar for one value. */
  float(values: readonly number[], dims: readonly number[] = values.length === 1 ? [] : [values.length]): Value {
    return this.shared(`f32:${dims.join('x')}:${values.join(',')}`, () => this.initializer('const_f32', Float32Array.from(values), dims));
  }

  /** An int8 vector of `n` zeros (the zero point of a symmetric per-axis DequantizeLinear), shared by every use. */
  int8Zeros(n: number): Value {
    return this.shared(`i8z:${n}`, () => this.initializer('zero_point_i8', new Int8Array(n), [n]));
  }

  /**
   * Appends a node. `outputs` is the number of outputs (named after the op or `name`) or their names;
   * an input of '' is an omitted optional input. Returns the output names.
   */
  node(opType: string, inputs: readonly Value[], attrs: Attributes = {}, outputs: number | readonly string[] = 1, name?: string): Value[] {
    const base = name ?? opType;
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? base : `${base}_out${i}`)) : outputs.map((o) => this.claim(o));
    for (const i of inputs) if (i !== '' && !this.names.has(i)) throw new Error(`ONNX graph ${this.name}: ${opType} reads ${i}, which no node, input or initializer defines`);
    const attributes = Object.entries(attrs)
      .filter((e): e is [string, AttrValue] => e[1] !== undefined)
      .map(([k, v]) => attribute(k, v));
    this.nodes.push({ input: [...inputs], output: outs, name: `${base}#${this.nodes.length}`, opType, attribute: attributes });
    return outs;
  }

  /** A node with one output. */
  op(opType: string, inputs: readonly Value[], attrs: Attributes = {}, name?: string): Value {
    return this.node(opType, inputs, attrs, 1, name)[0];
  }

  /** The graph inputs and outputs declared so far. */
  get signature(): { inputs: readonly ValueSpec[]; outputs: readonly ValueSpec[] } {
    return { inputs: this.inputs, outputs: this.outputs };
  }

  /** The ModelProto of this graph (ai.onnx opset OPSET, IR_VERSION, producer "s2s"). */
  toModel(options: ModelOptions = {}): ModelMessage {
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: PRODUCER,
      producerVersion: options.producerVersion ?? '',
      ...(options.doc ? { docString: options.doc } : {}),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }

  /** The bytes of the .onnx file. */
  encode(options: ModelOptions = {}): Uint8Array {
    return encodeModel(this.toModel(options));
  }
}
