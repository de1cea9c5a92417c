/**
 * The README.md of an ONNX export: the contract's tables (contract.ts), the
 * decoding loop, and the tokenizer's algorithm precisely enough that a
 * Python or C++ program reproduces s2s's ids and text (tokenizer-json.ts
 * holds the data it refers to).
 */
import { contractMarkdown, type OnnxContract } from './contract.js';
import type { TokenizerJson } from './tokenizer-json.js';
import { transformerReadme } from './transformer.js';

function levels(t: TokenizerJson): string {
  return t.source.level === t.target.level ? `${t.source.level} on both sides` : `${t.source.level} (source), ${t.target.level} (target)`;
}

function weightsLine(c: OnnxContract): string {
  if (c.weights === 'float32') return 'float32 weights.';
  return `int8 weights (model.json \`"weights": "int8"\`, from an int8 bundle of \`s2s quantize\`): every weight matrix and
embedding is an INT8 initializer with one float32 scale per output row/channel, expanded to float32 inside the graph
by a per-axis \`DequantizeLinear\` (zero point 0) that feeds the MatMul/Gemm/Gather/LSTM/GRU using it; biases,
layer norms and position tables are float32. The graphs compute in float32 on the dequantized weights, so their
outputs are those of the float32 model with weights int8 × scale (s2s's own int8 inference also quantizes the
activations per row, so its translations may differ slightly).`;
}

export function exportReadme(c: OnnxContract, t: TokenizerJson): string {
  const tt = c.targetTokens;
  return `# ONNX export of an s2s model

${c.architecture}. Exported by s2s for ONNX Runtime (or any runtime of the ai.onnx opset ${c.opset}, IR version ${c.irVersion}); ${weightsLine(c)}

| File | What |
|---|---|
| \`${c.encoder.file}\` | source ids and lengths → the decoder's initial state (and the memory it attends over) |
| \`${c.decoder.file}\` | one decoding step: previous tokens + state → next-token logits + new state |
| \`tokenizer.json\` | how text becomes tokens and back (${levels(t)}) |
| \`vocab.json\` | tokens ↔ ids for each side; special ids |
| \`model.json\` | this contract for programs: inputs/outputs, how the state is threaded, special ids, length limits |

Every axis named \`batch\` is the sentence (or beam hypothesis) axis and is axis 0 of every encoder output and decoder state,
so dropping finished sentences or reordering beams is a Gather on axis 0 of each state and constant tensor.
\`src_len\` is the padded source length of the batch. Both are dynamic.

## Decoding (what s2s does)

\`\`\`
ids   = for each sentence: tokenize (tokenizer.json) → vocab.json "source" ids (unknown → ${tt.unk}); rows padded with ${tt.pad}
enc   = ${c.encoder.file}(src_ids, src_lengths)
state = { d.input: enc[d.initial] for d in model.json decoder.state } ∪ { k.input: enc[k.from] for k in decoder.constants }
tokens = [${tt.bos}] * batch                      # BOS
for step in 0 .. maxLength:                       # maxLength = ${c.maxOutputLength} (model.json maxOutputLength)
    out    = ${c.decoder.file}(${c.decoder.tokens}=tokens, **state)
    next   = argmax(out.${c.decoder.logits}, axis=1)            # the first index on ties
    a row ends when next == ${tt.eos} (EOS), or, at step == maxLength, whatever next is (unfinished)
    otherwise next is appended to the row's output
    state[d.input] = out[d.next] for d in decoder.state; tokens = next  (Gather axis 0 to drop ended rows)
text  = vocab.json "target" tokens of the output ids → detokenize (tokenizer.json)
\`\`\`

log_softmax(logits) gives s2s's token log-probabilities; beam search (s2s's \`--beam K\`) keeps, per sentence, the K best
continuations by summed log-probability and ranks finished ones by logProb / ((5 + |Y|) / 6)^α (α = 0.6, |Y| counting EOS).
A sentence gets the same logits alone or in a batch: padding never enters the state.
An empty or whitespace-only input translates to the empty string without running the model${c.maxSourceLength !== null ? `; s2s refuses inputs longer than ${c.maxSourceLength} code points (after NFC), the longest source it was trained on` : ''}.

${contractMarkdown(c)}
${c.config.arch === 'transformer' ? `\n${transformerReadme(c.config as unknown as Parameters<typeof transformerReadme>[0])}` : ''}

## Tokenizer (tokenizer.json)

Every input is first normalised to Unicode NFC. Then, per side (\`source\`, \`target\`), by \`level\`:

- **char**: one token per Unicode code point (an emoji or astral letter is one token). Detokenize: concatenate.
- **word**: s2s's word tokenizer, with exact round trips. The rules are in \`tokenizer.json\` \`word\` (regular expressions
  are JavaScript sources with the flag \`u\`, i.e. Unicode property escapes such as \`\\p{L}\`, which Python's \`regex\` module
  and ICU accept):
  1. *Segment*: match \`piece\` (flags \`uy\`, sticky) repeatedly from the start. Group 1 is whitespace (added to the gap
     before the next core), group 2 a word, group 3 a symbol (one core). A word is split further: while it starts with
     \`elisionPrefix\` and the letters before the apostrophe (lower-cased) are in \`elisions\`, that prefix is a core of its
     own ("Qu'" "est-ce"); then if the rest matches \`contractionSuffix\` (flags \`iu\`) and its group 1 does not match
     \`isElision\`, group 1 and group 2 are two cores ("do" "n't"), else the rest is one core. The gap between pieces of one
     word is "". This gives cores c[0..n) and gaps g[0..n] (g[0] before the first core, g[n] after the last).
     A text with no core is one token, the text itself (or none for "").
  2. *Default gaps*: d[0] = d[n] = ""; for 0 < i < n, d[i] = "" when c[i−1] opens (in \`opening\`, or "/", or matches
     \`isElision\`, or is a straight double quote with an even number of '"' cores before it) or c[i] attaches left (in
     \`closing\`, matches \`closingRun\`, is "/", matches \`isContraction\` (flags \`iu\`), or is a '"' with an odd number of '"'
     cores before it); otherwise " ".
  3. *Codes*: a gap equal to its default writes nothing; otherwise it is written as a code: "" → \`glue\` (U+FFED),
     " " → \`space\` (U+2581), anything else literally. Gap i (0 < i < n) is owned by the left token when the left core is
     a marker core (its first or last character is \`glue\` or \`space\`), else not when the right core is one, else by the
     left token when the left core is not word-ish and the right one is (word-ish: matches \`startsWordlike\` and is neither
     an elision nor a contraction); otherwise by the right token. Gap 0 belongs to token 0 (prefix), gap n to token n−1
     (suffix). The owner writes the code as a suffix (left) or prefix (right). A marker core always writes both of its
     gaps as codes, even the default ones and even the one its neighbour owns. token[i] = prefix + c[i] + suffix.
  4. *Detokenize*: parse each token: an all-whitespace token is copied literally (and resets the defaults, as a new
     text); otherwise a leading whitespace run, or a leading \`glue\`/\`space\` when the token is longer than 1, is its
     prefix code, and likewise a trailing one its suffix code. Then compute default gaps over the cores as in 2 and emit
     prefix(token 0) or d[0], then for each token its core followed by the next token's prefix, else this token's suffix,
     else the default gap.
- **bpe**: word tokens (as above, codes included) are the words. A word is split into code points, \`endOfWord\` ("${'</w>'}")
  appended to the last one; then, repeatedly, the adjacent pair with the lowest rank in \`merges\` (its index) is merged
  everywhere in the word, left to right, until no adjacent pair is in \`merges\`. The final pieces lose the \`endOfWord\`
  mark; every piece but the word's last gets \`continuation\` ("@@") appended. Detokenize: join pieces up to one without
  "@@" (removing the marks) into words, then detokenize the words as the word level does.

Ids: \`vocab.json\` lists each side's tokens in id order; ids 0–3 are PAD, BOS, EOS and UNK and never match text (a token
equal to one of their strings is UNK). A token missing from the list is UNK (${tt.unk}). Output ids stop at EOS; PAD and BOS
are skipped; UNK decodes to the string "<unk>".
`;
}
