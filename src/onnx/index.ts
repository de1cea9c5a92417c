/** The onnx layer's public names: the graph builder, its subgraph helpers, the protobuf writer and the export contract. */
export { GraphBuilder, OPSET, IR_VERSION, PRODUCER, type Value, type Dim, type ElemType, type TensorData, type AttrValue, type Attributes, type ValueSpec, type ModelOptions } from './graph.js';
export { encodeModel, decodeModel, DataType, type ModelMessage } from './proto.js';
export * as layers from './layers.js';
export type { Weight } from './layers.js';
export { declareInput, declareOutput, ioTable, contractMarkdown, NAMES, type ExportedGraphs, type GraphExportOptions, type TensorDoc, type GraphContract, type StateLink, type ConstantLink, type SpecialTokens, type OnnxContract } from './contract.js';
