/**
 * The part of the ONNX protobuf schema (onnx/onnx.proto3, IR version 8) that
 * s2s writes, declared for protobufjs's reflection and encoder. Field numbers
 * and types follow the specification; messages and fields s2s never writes
 * (functions, sparse tensors, training info, sequence/map types) are left out,
 * which protobuf allows: an omitted field reads as unset. onnxruntime parses
 * every model the tests export, so a wrong number here fails loudly there.
 */
import protobuf from 'protobufjs/light.js';

/** TensorProto.DataType values s2s uses. */
export const DataType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9 } as const;
export type ElemType = keyof typeof DataType;

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** One dimension of a value's shape: a fixed size or a symbolic name ('batch', 'src_len'). */
export interface DimensionMessage {
  dimValue?: number;
  dimParam?: string;
}

export interface TensorMessage {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian element bytes. */
  rawData: Uint8Array;
}

export interface AttributeMessage {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorMessage;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

export interface NodeMessage {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain?: string;
  attribute: AttributeMessage[];
  docString?: string;
}

export interface ValueInfoMessage {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: DimensionMessage[] } } };
  docString?: string;
}

export interface GraphMessage {
  name: string;
  node: NodeMessage[];
  initializer: TensorMessage[];
  input: ValueInfoMessage[];
  output: ValueInfoMessage[];
  docString?: string;
}

export interface ModelMessage {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  docString?: string;
  graph: GraphMessage;
  metadataProps: { key: string; value: string }[];
}

const schema = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            docString: { type: 'string', id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            docString: { type: 'string', id: 12 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'Dimension', id: 1 },
          },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: {
                dimValue: { type: 'int64', id: 1 },
                dimParam: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: {
            tensorType: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
      },
    },
  },
};

let modelType: protobuf.Type | null = null;

function model(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(schema).lookupType('onnx.ModelProto');
  return modelType;
}

/** A ModelProto's wire bytes (what an .onnx file holds). */
export function encodeModel(message: ModelMessage): Uint8Array {
  const type = model();
  const err = type.verify(message);
  // A verification failure is a bug of the graph builder, not the user's input.
  if (err) throw new Error(`ONNX ModelProto: ${err}`);
  // encode takes plain objects: no copy of the (large) raw tensor bytes.
  return type.encode(message as unknown as Record<string, unknown>).finish();
}

/** Decodes wire bytes back into plain objects (tests read exported models with it). */
export function decodeModel(bytes: Uint8Array): ModelMessage {
  const type = model();
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Uint8Array as unknown as StringConstructor, defaults: false }) as unknown as ModelMessage;
}
