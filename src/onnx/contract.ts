/**
 * The contract of an exported model, one description for every architecture:
 * what encoder.onnx takes and gives, what decoder_step.onnx takes and gives,
 * and how a decoding loop threads the two. It is written to model.json (for
 * programs) and rendered into the export's README.md (for people), and the
 * graphs' inputs and outputs are declared from it, so the three never differ.
 *
 * The loop every architecture follows:
 *   enc = encoder(src_ids, src_lengths)
 *   for each decoder input in `state`: value = enc[initial]
 *   tokens = [BOS…]; repeat: out = decoder_step(tokens, state…, constants…);
 *   next tokens from out.logits; each state input takes out[next].
 * Axis 0 of every encoder output and decoder state is the batch (sentence or
 * beam hypothesis), so dropping finished rows or reordering beams is a Gather
 * on axis 0 of each of them.
 */
import type { Dim, ElemType, GraphBuilder, Value } from './graph.js';

/** One graph input or output, documented. */
export interface TensorDoc {
  name: string;
  type: ElemType;
  /** Sizes and symbolic axes: 'batch', 'src_len', … */
  dims: Dim[];
  /** What it holds, one or two sentences for the README. */
  meaning: string;
}

export interface GraphContract {
  file: string;
  inputs: TensorDoc[];
  outputs: TensorDoc[];
}

/** A decoder input that changes from step to step. */
export interface StateLink {
  /** The decoder_step input. */
  input: string;
  /** The encoder output it starts from. */
  initial: string;
  /** The decoder_step output that replaces it for the next step. */
  next: string;
}

/** A decoder input that stays what the encoder gave (the memory attended over, its mask, …). */
export interface ConstantLink {
  input: string;
  /** The encoder output it is. */
  from: string;
}

export interface SpecialTokens {
  pad: number;
  bos: number;
  eos: number;
  unk: number;
}

/** model.json: everything a decoding loop needs besides the graphs and the tokenizer. */
export interface OnnxContract {
  format: 's2s-onnx';
  version: 1;
  /** describeArchitecture of the model config, e.g. "bidirectional LSTM 2×256, general attention". */
  architecture: string;
  /** The s2s model config, as the bundle stores it. */
  config: Record<string, unknown>;
  opset: number;
  irVersion: number;
  /**
   * How the weights are stored: 'float32' initializers, or (an int8 bundle) 'int8' initializers with one
   * float32 scale per output row/channel, expanded by per-axis DequantizeLinear nodes (zero point 0) in the
   * graphs; biases, layer norms and position tables stay float32 either way.
   */
  weights: 'float32' | 'int8';
  encoder: GraphContract;
  decoder: GraphContract & {
    /** The input holding the previous token of each row (BOS on the first step), int64 [batch]. */
    tokens: string;
    /** The output with next-token logits [batch, vocab] (log-softmax gives s2s's scores). */
    logits: string;
    /** The output with attention weights over source positions [batch, src_len], or null. */
    attention: string | null;
    state: StateLink[];
    constants: ConstantLink[];
  };
  /** Target-side special ids (the source side uses the same ids for pad/unk; see vocab.json). */
  targetTokens: SpecialTokens;
  /** Source sentences longer than this many code points (after NFC) are refused by s2s; null when unlimited. */
  maxSourceLength: number | null;
  /** The output length limit s2s decodes with by default (tokens, EOS excluded). */
  maxOutputLength: number;
}

/** Declares a documented graph input. */
export function declareInput(g: GraphBuilder, doc: TensorDoc): Value {
  return g.input(doc.name, doc.type, doc.dims, doc.meaning);
}

/** Declares `value` as a documented graph output. */
export function declareOutput(g: GraphBuilder, value: Value, doc: TensorDoc): Value {
  return g.output(value, doc.name, doc.type, doc.dims, doc.meaning);
}

function shape(dims: readonly Dim[]): string {
  return `[${dims.join(', ')}]`;
}

/** A Markdown table of a graph's inputs or outputs. */
export function ioTable(docs: readonly TensorDoc[]): string {
  const rows = docs.map((d) => `| \`${d.name}\` | ${d.type} | \`${shape(d.dims)}\` | ${d.meaning.replace(/\|/g, '\\|')} |`);
  return ['| Name | Type | Shape | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The README section describing both graphs and the decoding loop. */
export function contractMarkdown(c: OnnxContract): string {
  const state = c.decoder.state.map((s) => `| \`${s.input}\` | encoder \`${s.initial}\` | \`${s.next}\` |`);
  const constants = c.decoder.constants.map((s) => `| \`${s.input}\` | encoder \`${s.from}\` | (unchanged) |`);
  return [
    `## ${c.encoder.file}`,
    '',
    '### Inputs',
    '',
    ioTable(c.encoder.inputs),
    '',
    '### Outputs',
    '',
    ioTable(c.encoder.outputs),
    '',
    `## ${c.decoder.file}`,
    '',
    '### Inputs',
    '',
    ioTable(c.decoder.inputs),
    '',
    '### Outputs',
    '',
    ioTable(c.decoder.outputs),
    '',
    '### Threading the state',
    '',
    `Each decoder input other than \`${c.decoder.tokens}\` gets, on the first step, an encoder output, and afterwards the decoder output named here (this table is \`decoder.state\` and \`decoder.constants\` in model.json):`,
    '',
    '| Decoder input | First step | Next step |',
    '|---|---|---|',
    ...state,
    ...constants,
  ].join('\n');
}

/** Names every architecture's graphs share. */
export const NAMES = {
  encoderFile: 'encoder.onnx',
  decoderFile: 'decoder_step.onnx',
  /** encoder input: int64 [batch, src_len], PAD-padded source ids (no BOS/EOS, as s2s encodes sources). */
  srcIds: 'src_ids',
  /** encoder input: int64 [batch], the real length of each row of src_ids. */
  srcLengths: 'src_lengths',
  /** decoder input: int64 [batch], the previous token of each row (BOS first). */
  tokens: 'tokens',
  /** decoder output: float [batch, tgt_vocab]. */
  logits: 'logits',
  /** decoder output: float [batch, src_len] (architectures with attention). */
  attention: 'attention',
  /** Prefix of the decoder output that replaces a state input for the next step: h → next_h. */
  nextPrefix: 'next_',
} as const;

/** What one architecture's exporter produces: the two graphs' bytes and their part of the contract. */
export interface ExportedGraphs {
  encoder: Uint8Array;
  decoder: Uint8Array;
  /** The graphs' documented inputs/outputs and the state threading (file names are NAMES'). */
  contract: Pick<OnnxContract, 'encoder' | 'decoder'>;
}

/** Options every architecture's exporter receives. */
export interface GraphExportOptions {
  /** producer_version of both ModelProtos (the s2s version). */
  producerVersion: string;
  /** metadata_props of both ModelProtos. */
  metadata: Record<string, string>;
}
