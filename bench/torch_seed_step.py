#!/usr/bin/python3
"""PyTorch CPU reference for `npm run bench:engine`: the seed model's training step.

The model is the Keras character-level seq2seq seed, written the way Keras
runs it: one-hot float inputs, encoder LSTM(256) over 71 symbols x 16 steps,
decoder LSTM(256) over 93 symbols x 59 steps started from the encoder's final
(h, c), Dense(93) + softmax cross-entropy, RMSprop(lr=0.001, alpha=0.9,
eps=1e-7), batch 64, every sequence full length (padded workload).

Prints human-readable BLAS/threading information on stderr and one JSON
object on the last line of stdout:
  {"torch": "1.13.0", "threads": 2, "blas": "...", "times": [...], "median": s}
or {"error": "..."} when torch is not installed.

Run with /usr/bin/python3 (Debian's python3-torch):
  /usr/bin/python3 bench/torch_seed_step.py --threads 2 --warmup 3 --steps 10
"""
import argparse
import json
import os
import statistics
import sys
import time


def loaded_blas_libraries():
    """Shared libraries with 'blas' in their path mapped into this process."""
    libs = set()
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and "blas" in parts[5].lower():
                    libs.add(os.path.realpath(parts[5]))
    except OSError:
        pass
    return sorted(libs)


def machine_busy_seconds():
    """CPU seconds all cores have spent busy (/proc/stat), NaN off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
        return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return float("nan")


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--enc-steps", type=int, default=16)
    parser.add_argument("--dec-steps", type=int, default=59)
    parser.add_argument("--enc-vocab", type=int, default=71)
    parser.add_argument("--dec-vocab", type=int, default=93)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()

    try:
        import torch
        from torch import nn
    except ImportError as err:  # pragma: no cover - depends on the machine
        print(json.dumps({"error": f"PyTorch is not installed for {sys.executable} ({err})"}))
        return

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    class Seed(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.LSTM(args.enc_vocab, args.hidden, batch_first=True)
            self.dec = nn.LSTM(args.dec_vocab, args.hidden, batch_first=True)
            self.dense = nn.Linear(args.hidden, args.dec_vocab)

        def forward(self, enc_in, dec_in):
            _, (h, c) = self.enc(enc_in)
            out, _ = self.dec(dec_in, (h, c))
            return self.dense(out)

    model = Seed()
    model.train()
    opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    B = args.batch
    enc_in = nn.functional.one_hot(torch.randint(args.enc_vocab, (B, args.enc_steps)), args.enc_vocab).float()
    dec_in = nn.functional.one_hot(torch.randint(args.dec_vocab, (B, args.dec_steps)), args.dec_vocab).float()
    target = torch.randint(args.dec_vocab, (B, args.dec_steps))

    def step():
        opt.zero_grad()
        logits = model(enc_in, dec_in)
        loss = loss_fn(logits.reshape(-1, args.dec_vocab), target.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    busy0, own0, wall0 = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - wall0
    others = max(0.0, (machine_busy_seconds() - busy0) - (own_cpu_seconds() - own0)) / (wall * (os.cpu_count() or 1))

    config = torch.__config__.show()
    blas_info = next((p.strip() for line in config.splitlines() for p in line.split(",") if "BLAS_INFO" in p), "BLAS_INFO=?")
    alternative = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu"
    alt_target = os.path.realpath(alternative) if os.path.exists(alternative) else "(no libblas.so.3 alternative)"
    libs = loaded_blas_libraries()
    parallel = torch.__config__.parallel_info().splitlines()
    backend = next((l.strip() for l in parallel if l.startswith("ATen parallel backend")), "")
    print(f"torch {torch.__version__}: {blas_info}; libblas.so.3 -> {alt_target}", file=sys.stderr)
    print(f"torch loaded BLAS libraries: {', '.join(libs) or '(none found)'}", file=sys.stderr)
    print(f"torch threads: {torch.get_num_threads()} ({backend})", file=sys.stderr)
    variant = "openmp" if any("openmp" in l for l in libs) else "pthread" if any("pthread" in l for l in libs) else "?"
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": f"{blas_info}, libblas.so.3 -> {alt_target}",
        "blasVariant": variant,
        "libraries": libs,
        "times": times,
        "median": statistics.median(times),
        "others": others,
    }))


if __name__ == "__main__":
    main()
