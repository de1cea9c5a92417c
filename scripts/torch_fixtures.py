#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for test/torch-parity.test.ts.

Run by hand (the test itself never needs Python):

    /usr/bin/python3 scripts/torch_fixtures.py            # writes test/fixtures/torch/*.json

Every input and weight is drawn in float32 from a seeded generator, then the
computation runs in float64, so the fixtures hold float32-exact inputs and
high-precision references for s2s's float32 engine.

Layout conventions in the JSON (all arrays flattened row-major):
  * tensors are stored in PyTorch's own layout and gate order, exactly as
    `named_parameters()` gives them ([4H, in] for weight_ih, gates i,f,g,o for
    the LSTM and r,z,n for the GRU); the test converts to s2s's layout.
  * sequences are batch-major and padded: x is [B, T, in], output [B, T, H]
    (zeros past each length, as pad_packed_sequence gives them).
  * the loss is a fixed random projection of every output:
        loss = sum(proj.output * output) + sum(proj.h_n * h_n) [+ sum(proj.c_n * c_n)]
    and grads holds d loss / d (every weight, x, h0[, c0]).
"""
import json
import os
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch')


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def entry(t):
    return {'shape': list(t.shape), 'data': flat(t)}


def f32(gen, *shape, scale=1.0, normal=True):
    """float32-exact values, returned as float64."""
    if normal:
        v = torch.randn(*shape, generator=gen, dtype=torch.float32) * scale
    else:
        v = (torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1) * scale
    return v.to(torch.float32).to(torch.float64)


def rnn_fixture(kind, seed, batch, inp, hidden, layers, steps, lengths):
    gen = torch.Generator().manual_seed(seed)
    cls = torch.nn.LSTM if kind == 'lstm' else torch.nn.GRU
    rnn = cls(inp, hidden, num_layers=layers, batch_first=True).double()
    with torch.no_grad():
        for _, p in rnn.named_parameters():
            # Wider than PyTorch's default ±1/√H so the gates are not all near 0.5.
            p.copy_(f32(gen, *p.shape, scale=0.6, normal=False))
    x = f32(gen, batch, steps, inp).requires_grad_(True)
    h0 = f32(gen, layers, batch, hidden, scale=0.5).requires_grad_(True)
    c0 = f32(gen, layers, batch, hidden, scale=0.5).requires_grad_(True) if kind == 'lstm' else None

    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    if kind == 'lstm':
        out_packed, (h_n, c_n) = rnn(packed, (h0, c0))
    else:
        out_packed, h_n = rnn(packed, h0)
        c_n = None
    out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=steps)

    proj = {'output': f32(gen, batch, steps, hidden), 'h_n': f32(gen, layers, batch, hidden)}
    loss = (proj['output'] * out).sum() + (proj['h_n'] * h_n).sum()
    if c_n is not None:
        proj['c_n'] = f32(gen, layers, batch, hidden)
        loss = loss + (proj['c_n'] * c_n).sum()
    loss.backward()

    fixture = {
        'description': f'{layers}-layer torch.nn.{cls.__name__}, batch_first, packed with enforce_sorted=False; float64 reference',
        'generator': 'scripts/torch_fixtures.py',
        'torch': torch.__version__,
        'kind': kind,
        'batch': batch, 'input': inp, 'hidden': hidden, 'layers': layers, 'steps': steps,
        'lengths': list(lengths),
        'gateOrder': 'i,f,g,o' if kind == 'lstm' else 'r,z,n',
        'weights': {name: entry(p) for name, p in rnn.named_parameters()},
        'x': entry(x),
        'h0': entry(h0),
        'proj': {k: entry(v) for k, v in proj.items()},
        'expected': {'output': entry(out), 'h_n': entry(h_n), 'loss': float(loss)},
        'grads': {name: entry(p.grad) for name, p in rnn.named_parameters()},
    }
    fixture['grads']['x'] = entry(x.grad)
    fixture['grads']['h0'] = entry(h0.grad)
    if kind == 'lstm':
        fixture['c0'] = entry(c0)
        fixture['expected']['c_n'] = entry(c_n)
        fixture['grads']['c0'] = entry(c0.grad)
    return fixture


def cross_entropy_fixture(seed):
    gen = torch.Generator().manual_seed(seed)
    rows, classes = 9, 6
    logits = f32(gen, rows, classes, scale=2.0).requires_grad_(True)
    targets = torch.tensor([3, -100, 0, 5, 5, -100, 1, 2, -100])
    loss = torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100, reduction='mean')
    loss.backward()
    return {
        'description': 'torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100, reduction="mean"); float64 reference',
        'generator': 'scripts/torch_fixtures.py',
        'torch': torch.__version__,
        'logits': entry(logits),
        'targets': targets.tolist(),
        'ignoreIndex': -100,
        'expected': {'loss': float(loss)},
        'grads': {'logits': entry(logits.grad)},
    }


def dumps(obj, indent=0):
    """JSON with one key per line and lists of numbers kept on one line."""
    pad = ' ' * indent
    if isinstance(obj, dict):
        if not obj:
            return '{}'
        items = [f'{pad} {json.dumps(k)}: {dumps(v, indent + 1)}' for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return '[\n' + ',\n'.join(f'{pad} {dumps(v, indent + 1)}' for v in obj) + '\n' + pad + ']'
    return json.dumps(obj)


def write(name, fixture):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    text = dumps(fixture) + '\n'
    assert json.loads(text) == fixture
    with open(path, 'w') as f:
        f.write(text)
    print(f'wrote {os.path.relpath(path)}', file=sys.stderr)


def main():
    torch.use_deterministic_algorithms(True)
    write('lstm.json', rnn_fixture('lstm', seed=20240601, batch=3, inp=5, hidden=4, layers=2, steps=6, lengths=[4, 6, 2]))
    write('gru.json', rnn_fixture('gru', seed=20240602, batch=3, inp=5, hidden=4, layers=1, steps=6, lengths=[5, 6, 1]))
    write('cross_entropy.json', cross_entropy_fixture(seed=20240603))


if __name__ == '__main__':
    main()
