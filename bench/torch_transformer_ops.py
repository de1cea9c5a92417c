#!/usr/bin/python3
"""PyTorch CPU peer for `npm run bench:transformer-ops`: the Transformer ops one by one.

Each op is timed forward + backward (autograd, a random upstream gradient)
at the reference shapes of issue 12: batch B sentences of T tokens, d_model D,
H heads, feed-forward F, vocabulary V. Attention is written as
torch.nn.functional.multi_head_attention_forward computes it in torch 1.13
(heads split by view/transpose, q scaled, baddbmm with the mask, softmax,
bmm, heads merged back), starting from the projected q, k, v.

Prints one JSON object on the last line of stdout:
  {"torch": "1.13.0", "threads": 2, "ops": {"name": fastest seconds, ...}}
or {"error": "..."} when torch is not installed.
"""
import argparse
import json
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--len", type=int, default=30)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ff", type=int, default=1024)
    p.add_argument("--vocab", type=int, default=8000)
    args = p.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(json.dumps({"error": f"torch not available: {e}"}))
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    B, T, D, H, FF, V = args.batch, args.len, args.dim, args.heads, args.ff, args.vocab
    hd = D // H
    N = B * T

    def leaf(*shape, scale=1.0):
        return (torch.randn(*shape) * scale).requires_grad_(True)

    lengths = torch.randint(T // 2, T + 1, (B,))
    pad = torch.arange(T)[None, :] >= lengths[:, None]  # True = padding, as key_padding_mask
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)

    def attention(q, k, v, causal_mask):
        # [B*T, D] -> [B*H, T, hd], as multi_head_attention_forward does (it keeps [T, B, D]; the copies are the same)
        def heads(x):
            return x.view(B, T, H, hd).transpose(1, 2).reshape(B * H, T, hd)
        mask = pad[:, None, None, :].expand(B, H, 1, T).reshape(B * H, 1, T)
        if causal_mask:
            mask = mask | causal[None]
        float_mask = torch.zeros(mask.shape).masked_fill_(mask, float("-inf"))
        qh = heads(q) * (hd ** -0.5)
        scores = torch.baddbmm(float_mask, qh, heads(k).transpose(-2, -1))
        attn = torch.softmax(scores, dim=-1)
        out = torch.bmm(attn, heads(v))
        return out.view(B, H, T, hd).transpose(1, 2).reshape(N, D)

    q, k, v = leaf(N, D), leaf(N, D), leaf(N, D)
    x = leaf(N, D)
    g, b = leaf(D), leaf(D)
    w1, b1 = leaf(D, FF, scale=D ** -0.5), leaf(FF)
    table = leaf(V, D, scale=0.1)
    pos = torch.zeros(512, D)
    ids = torch.randint(V, (B, T))
    logits = leaf(N, V)
    targets = torch.randint(V, (N,))
    targets[pad.reshape(-1)] = -1
    xent = torch.nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=0.1)

    ops = {
        "attention (self, key padding)": lambda: attention(q, k, v, False),
        "attention (causal + padding)": lambda: attention(q, k, v, True),
        "layer norm": lambda: F.layer_norm(x, (D,), g, b, 1e-5),
        "linear + ReLU (D→F)": lambda: F.relu(F.linear(x, w1.t(), b1)),
        "linear + GELU (D→F)": lambda: F.gelu(F.linear(x, w1.t(), b1)),
        "embedding·√D + positions": lambda: (F.embedding(ids, table) * (D ** 0.5) + pos[:T][None]).reshape(N, D),
        "cross-entropy, label smoothing 0.1": lambda: xent(logits, targets),
    }
    result = {}
    for name, fn in ops.items():
        out = fn()
        seed = torch.randn_like(out) if out.dim() > 0 else torch.tensor(1.0)
        times = []
        for i in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            out = fn()
            out.backward(seed)
            dt = time.perf_counter() - t0
            if i >= args.warmup:
                times.append(dt)
            for t in (q, k, v, x, g, b, w1, b1, table, logits):
                t.grad = None
        result[name] = min(times)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "ops": result}))


if __name__ == "__main__":
    main()
