#!/usr/bin/env python3
"""Writes the PyTorch reference fixture for test/model-transformer-torch.test.ts.

Run by hand (the test itself never needs Python):

    /usr/bin/python3 scripts/torch_transformer_fixtures.py   # writes test/fixtures/torch/transformer.json

torch.nn.Transformer (pre-LN: norm_first=True, batch_first=True, dropout 0,
ReLU) with weights drawn in float32 from a seeded generator, run in float64.
torch.nn.Transformer has no embeddings or positions, so the inputs are the
already-embedded source src [B, S, D] and target tgt [B, T, D]; the masks are
src_key_padding_mask = memory_key_padding_mask (True = padding, from
src_lengths) and a causal tgt_mask. The loss is a fixed random projection of
the decoder output at the real target positions and of the encoder output
(memory) at the real source positions:
    loss = sum(proj_out * out * tgt_real) + sum(proj_mem * memory * src_real)
grads holds d loss / d (every parameter, src, tgt).

Layout in the JSON: every tensor flattened row-major in torch's own layout
(named_parameters() names, in_proj_weight [3D, D], linear weights [out, in]);
the test maps them onto s2s's [in, out] kernels.
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch', 'transformer.json')


def flat(t, digits):
    # 9 significant digits round-trip float32 (inputs, weights); 10 are ample for the 1e-5 / 1e-4 checks.
    return [float(f'{v:.{digits}g}') for v in t.detach().reshape(-1).tolist()]


def entry(t, digits=10):
    return {'shape': list(t.shape), 'data': flat(t, digits)}


def f32(gen, *shape, scale=1.0):
    """float32-exact uniform values in ±scale, returned as float64."""
    v = (torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1) * scale
    return v.to(torch.float64)


def main():
    D, heads, enc_layers, dec_layers, ff = 16, 2, 2, 2, 32
    B, S, T = 3, 5, 4
    src_lengths, tgt_lengths = [5, 3, 2], [4, 2, 3]
    gen = torch.Generator().manual_seed(12)
    model = torch.nn.Transformer(d_model=D, nhead=heads, num_encoder_layers=enc_layers, num_decoder_layers=dec_layers,
                                 dim_feedforward=ff, dropout=0.0, activation='relu', batch_first=True, norm_first=True).double()
    model.train()  # no fast path: the plain autograd graph
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('norm1.weight') or name.endswith('norm2.weight') or name.endswith('norm3.weight') or name.endswith('norm.weight'):
                p.copy_(1 + f32(gen, *p.shape, scale=0.3))
            elif p.dim() == 1:
                p.copy_(f32(gen, *p.shape, scale=0.2))
            else:
                p.copy_(f32(gen, *p.shape, scale=(6.0 / (p.shape[0] + p.shape[1])) ** 0.5))
    src = f32(gen, B, S, D).requires_grad_(True)
    tgt = f32(gen, B, T, D).requires_grad_(True)
    src_pad = torch.tensor([[s >= n for s in range(S)] for n in src_lengths])
    tgt_real = torch.tensor([[float(t < n) for t in range(T)] for n in tgt_lengths], dtype=torch.float64).unsqueeze(-1)
    src_real = (~src_pad).to(torch.float64).unsqueeze(-1)
    causal = torch.triu(torch.full((T, T), float('-inf'), dtype=torch.float64), diagonal=1)

    memory = model.encoder(src, src_key_padding_mask=src_pad)
    out = model.decoder(tgt, memory, tgt_mask=causal, memory_key_padding_mask=src_pad)
    proj_out = f32(gen, B, T, D)
    proj_mem = f32(gen, B, S, D)
    loss = (proj_out * out * tgt_real).sum() + (proj_mem * memory * src_real).sum()
    loss.backward()

    fixture = {
        'description': 'torch.nn.Transformer(norm_first=True, batch_first=True, dropout=0, relu) encoder and decoder stacks, float64 reference',
        'generator': 'scripts/torch_transformer_fixtures.py',
        'torch': torch.__version__,
        'modelDim': D, 'heads': heads, 'encoderLayers': enc_layers, 'decoderLayers': dec_layers, 'ffDim': ff,
        'batch': B, 'srcLen': S, 'tgtLen': T, 'srcLengths': src_lengths, 'tgtLengths': tgt_lengths,
        'weights': {name: entry(p, 9) for name, p in model.named_parameters()},
        'src': entry(src, 9), 'tgt': entry(tgt, 9),
        'proj': {'out': entry(proj_out, 9), 'memory': entry(proj_mem, 9)},
        'expected': {'memory': entry(memory), 'out': entry(out), 'loss': float(loss)},
        'grads': {**{name: entry(p.grad) for name, p in model.named_parameters()}, 'src': entry(src.grad), 'tgt': entry(tgt.grad)},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(fixture, f)
        f.write('\n')
    print(f'wrote {OUT}: loss {float(loss):.6f}, {len(fixture["weights"])} parameters')


if __name__ == '__main__':
    main()
