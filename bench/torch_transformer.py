#!/usr/bin/python3
"""PyTorch peer of `npm run bench:transformer`: the issue-12 reference Transformer.

torch.nn.Transformer (pre-LN: norm_first=True, batch_first=True) with d_model
256, 4 heads, 3 + 3 layers, ff 1024, ReLU, dropout 0.1; one embedding table
shared by source, target and the output projection (tied), embeddings scaled
by sqrt(d_model) plus sinusoidal positions (even columns sin, odd cos);
label-smoothed cross-entropy (0.1, padding ignored); Adam; float32.

Two modes, both reading the files bench/transformer.ts writes:

  train   --batches FILE: times training steps on exactly the batches s2s
          trains on (same ids, same lengths, same order).
  decode  --batches FILE --weights FILE: loads s2s's exported weights and
          decodes the same sources greedily and with beam 5, with a
          per-layer key/value cache written the way fairseq does incremental
          decoding (encoder keys/values projected once per sentence,
          self-attention keys/values appended per step, every cache
          reordered with index_select when beams are selected or sentences
          finish). The search is the one s2s's decode/beam.ts implements
          (shrinking beam, GNMT length penalty 0.6 for ranking, early stop),
          so both sides should produce the same tokens.

Prints BLAS/threading information on stderr and one JSON object on the last
line of stdout ({"error": ...} when torch is missing).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

PAD, BOS, EOS = 0, 1, 2


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


class Interference:
    """Share of the machine's CPU other processes used while measuring."""

    def __init__(self):
        self.busy = self.own = self.wall = 0.0

    def measure(self, fn):
        b0, c0, t0 = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
        r = fn()
        self.wall += time.perf_counter() - t0
        self.busy += machine_busy_seconds() - b0
        self.own += own_cpu_seconds() - c0
        return r

    @property
    def others(self):
        if self.wall <= 0:
            return float("nan")
        return max(0.0, self.busy - self.own) / (self.wall * (os.cpu_count() or 1))


def environment(torch):
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
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": f"{blas_info}, libblas.so.3 -> {alt_target}",
        "blasVariant": variant,
        "libraries": libs,
    }


def build_model(torch, cfg):
    from torch import nn

    d = cfg["modelDim"]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(cfg["vocabSize"], d)
            nn.init.normal_(self.embedding.weight, 0.0, d ** -0.5)
            self.transformer = nn.Transformer(
                d_model=d, nhead=cfg["heads"], num_encoder_layers=cfg["encoderLayers"],
                num_decoder_layers=cfg["decoderLayers"], dim_feedforward=cfg["ffDim"], dropout=cfg["dropout"],
                activation="relu", batch_first=True, norm_first=True)
            self.dropout = nn.Dropout(cfg["dropout"])
            self.scale = math.sqrt(d)
            self.register_buffer("positions", sinusoidal(torch, cfg["maxPositions"], d), persistent=False)

        def embed(self, ids, offset=0):
            x = self.embedding(ids) * self.scale + self.positions[offset:offset + ids.shape[1]]
            return self.dropout(x)

        def forward(self, src, src_pad, tgt_in, tgt_pad):
            T = tgt_in.shape[1]
            causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
            h = self.transformer(self.embed(src), self.embed(tgt_in), tgt_mask=causal,
                                 src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
                                 memory_key_padding_mask=src_pad)
            return h @ self.embedding.weight.t()

    return Model()


def sinusoidal(torch, max_len, dim):
    """pe[p, 2i] = sin(p / 10000^(2i/dim)), pe[p, 2i+1] = cos(same), as interfaces.md says."""
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    i2 = torch.arange(0, dim, 2, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, i2 / dim)
    pe = torch.zeros(max_len, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


def padding_mask(torch, lengths, max_len):
    """True where a position is padding."""
    return torch.arange(max_len).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)


def tensor_batch(torch, b):
    B = b["size"]
    src = torch.tensor(b["srcIds"], dtype=torch.long).view(B, b["srcMaxLen"])
    tgt_in = torch.tensor(b["tgtIn"], dtype=torch.long).view(B, b["tgtMaxLen"])
    tgt_out = torch.tensor(b["tgtOut"], dtype=torch.long).view(B, b["tgtMaxLen"])
    return (src, padding_mask(torch, b["srcLengths"], b["srcMaxLen"]), tgt_in,
            padding_mask(torch, b["tgtLengths"], b["tgtMaxLen"]), tgt_out, int(sum(b["tgtLengths"])))


# ------------------------------------------------------------------ training

def run_train(torch, args, data):
    import torch.nn.functional as F

    cfg = data["config"]
    torch.manual_seed(0)
    model = build_model(torch, cfg)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["learningRate"], betas=(cfg["adamBeta1"], cfg["adamBeta2"]), eps=cfg["adamEpsilon"])
    batches = [tensor_batch(torch, b) for b in data["train"]]
    V = cfg["vocabSize"]

    def step(b):
        src, src_pad, tgt_in, tgt_pad, tgt_out, _ = b
        opt.zero_grad(set_to_none=True)
        logits = model(src, src_pad, tgt_in, tgt_pad)
        loss = F.cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1), ignore_index=PAD, label_smoothing=cfg["labelSmoothing"])
        loss.backward()
        opt.step()
        return loss.item()

    n = len(batches)
    for i in range(args.warmup):
        step(batches[i % n])
    busy = Interference()
    times, indices, losses = [], [], []
    first = args.warmup if args.first is None else args.first
    for i in range(first, first + args.steps):
        b = batches[i % n]
        t0 = time.perf_counter()
        losses.append(busy.measure(lambda: step(b)))
        times.append(time.perf_counter() - t0)
        indices.append(i % n)
    return {"times": times, "indices": indices, "warmup": args.warmup, "losses": losses,
            "median": statistics.median(times), "others": busy.others}


# ------------------------------------------------------------------ decoding

class Incremental:
    """Encoder run once; decoder one token at a time with per-layer key/value caches (fairseq style)."""

    def __init__(self, torch, model, cfg):
        self.torch = torch
        self.F = torch.nn.functional
        self.model = model
        self.d = cfg["modelDim"]
        self.h = cfg["heads"]
        self.hd = self.d // self.h
        self.layers = list(model.transformer.decoder.layers)
        self.final_norm = model.transformer.decoder.norm
        self.emb = model.embedding.weight

    def split_heads(self, x):
        # [N, T, d] -> [N, heads, T, hd]
        N, T, _ = x.shape
        return x.view(N, T, self.h, self.hd).transpose(1, 2)

    def encode(self, src, src_pad):
        torch = self.torch
        memory = self.model.transformer.encoder(self.model.embed(src), src_key_padding_mask=src_pad)
        d = self.d
        state = {"step": 0, "memMask": torch.zeros(src_pad.shape, dtype=torch.float32).masked_fill(src_pad, float("-inf"))[:, None, None, :],
                 "memK": [], "memV": [], "selfK": [None] * len(self.layers), "selfV": [None] * len(self.layers)}
        for layer in self.layers:
            w, b = layer.multihead_attn.in_proj_weight, layer.multihead_attn.in_proj_bias
            state["memK"].append(self.split_heads(self.F.linear(memory, w[d:2 * d], b[d:2 * d])))
            state["memV"].append(self.split_heads(self.F.linear(memory, w[2 * d:], b[2 * d:])))
        return state

    def attend(self, q, k, v, mask):
        # q [N, H, 1, hd], k/v [N, H, T, hd]
        scores = (q @ k.transpose(-1, -2)) * (self.hd ** -0.5)
        if mask is not None:
            scores = scores + mask
        return self.torch.softmax(scores, dim=-1) @ v

    def step(self, tokens, state):
        """tokens: LongTensor [N] -> logits [N, V]; state is updated in place."""
        F, d, t = self.F, self.d, state["step"]
        N = tokens.shape[0]
        x = self.model.embedding(tokens.unsqueeze(1)) * self.model.scale + self.model.positions[t:t + 1]
        for l, layer in enumerate(self.layers):
            sa = layer.self_attn
            h = layer.norm1(x)
            qkv = F.linear(h, sa.in_proj_weight, sa.in_proj_bias)
            q, k, v = (self.split_heads(z) for z in qkv.split(d, dim=-1))
            if state["selfK"][l] is not None:
                k = self.torch.cat([state["selfK"][l], k], dim=2)
                v = self.torch.cat([state["selfV"][l], v], dim=2)
            state["selfK"][l], state["selfV"][l] = k, v
            a = self.attend(q, k, v, None).transpose(1, 2).reshape(N, 1, d)
            x = x + sa.out_proj(a)
            ca = layer.multihead_attn
            h = layer.norm2(x)
            q = self.split_heads(F.linear(h, ca.in_proj_weight[:d], ca.in_proj_bias[:d]))
            a = self.attend(q, state["memK"][l], state["memV"][l], state["memMask"]).transpose(1, 2).reshape(N, 1, d)
            x = x + ca.out_proj(a)
            x = x + layer.linear2(F.relu(layer.linear1(layer.norm3(x))))
        state["step"] = t + 1
        return (self.final_norm(x) @ self.emb.t()).squeeze(1)

    def reorder(self, state, index):
        """Keeps the rows `index` (LongTensor) of every cache, as fairseq's reorder_incremental_state."""
        for key in ("memK", "memV", "selfK", "selfV"):
            state[key] = [c.index_select(0, index) for c in state[key]]
        state["memMask"] = state["memMask"].index_select(0, index)


def greedy(torch, dec, src, src_pad, max_length):
    B = src.shape[0]
    out = [[] for _ in range(B)]
    state = dec.encode(src, src_pad)
    rows = list(range(B))
    tokens = torch.full((B,), BOS, dtype=torch.long)
    for step in range(max_length + 1):
        if not rows:
            break
        logits = dec.step(tokens, state)
        ids = logits.argmax(dim=-1)
        id_list = ids.tolist()
        keep = []
        for i, s in enumerate(rows):
            if id_list[i] == EOS:
                continue
            if step < max_length:
                out[s].append(id_list[i])
                keep.append(i)
        if len(keep) != len(rows):
            index = torch.tensor(keep, dtype=torch.long)
            dec.reorder(state, index)
            ids = ids.index_select(0, index)
            rows = [rows[i] for i in keep]
        tokens = ids
    return out


def length_penalty(length, alpha):
    return 1.0 if alpha == 0 else ((5 + length) / 6) ** alpha


def beam(torch, dec, src, src_pad, K, max_length, alpha):
    """s2s's beam search (decode/beam.ts): shrinking beam, raw log-prob selection, GNMT ranking, early stop; nBest 1."""
    B = src.shape[0]
    results = [None] * B
    # A sentence: [index, beams [(tokens tuple, logProb)], ended [(score, logProb, order, tokens, finished)], finishedCount]
    live = [[i, [((), 0.0)], [], 0] for i in range(B)]
    state = dec.encode(src, src_pad)
    tokens = torch.full((B,), BOS, dtype=torch.long)
    order = 0

    def end(s, toks, length, lp, finished):
        nonlocal order
        size = length + 1 if finished else length
        s[2].append((lp / length_penalty(size, alpha), lp, order, toks, finished))
        order += 1
        if finished:
            s[3] += 1

    def best(s):
        # finished first, then score (best first), ties in the order they ended
        return sorted(s[2], key=lambda h: (not h[4], -h[0], h[2]))

    def reachable(lp, length):
        return lp / max(length_penalty(length + 1, alpha), length_penalty(max_length + 1, alpha))

    step = 0
    while live:
        logits = dec.step(tokens, state)
        logp = torch.log_softmax(logits.double(), dim=-1)
        V = logp.shape[1]
        parents, next_tokens, still = [], [], []
        counts = [len(s[1]) for s in live]
        if step == max_length:
            am = logp.argmax(dim=-1).tolist()
            eos_lp = logp[:, EOS].tolist()
        else:
            # Candidates of every live sentence side by side: [sentences, K * V], missing beams at -inf.
            prev = torch.tensor([b[1] for s in live for b in s[1]], dtype=torch.float64)
            scores = logp + prev.unsqueeze(1)
            grid = torch.full((len(live), K, V), float("-inf"), dtype=torch.float64)
            sent = torch.tensor([i for i, c in enumerate(counts) for _ in range(c)], dtype=torch.long)
            slot = torch.tensor([k for c in counts for k in range(c)], dtype=torch.long)
            grid[sent, slot] = scores
            top_v, top_i = grid.view(len(live), K * V).topk(K, dim=1)
            top_v, top_i = top_v.tolist(), top_i.tolist()
        row0 = 0
        for si, s in enumerate(live):
            count = counts[si]
            if step == max_length:
                for k, (toks, lp) in enumerate(s[1]):
                    r = row0 + k
                    if am[r] == EOS:
                        end(s, toks, step, lp + eos_lp[r], True)
                    else:
                        end(s, toks, step, lp, False)
                s[1] = []
            else:
                beams = []
                for c in range(K - s[3]):
                    sc = top_v[si][c]
                    if sc == float("-inf"):
                        break
                    k, token = divmod(top_i[si][c], V)
                    toks = s[1][k][0]
                    if token == EOS:
                        end(s, toks, step, sc, True)
                    else:
                        beams.append((toks + (token,), sc))
                        parents.append(row0 + k)
                        next_tokens.append(token)
                s[1] = beams
            row0 += count
            done = len(s[1]) == 0
            if not done and s[3] >= 1:
                bar = [h for h in best(s) if h[4]][0][0]
                done = all(reachable(lp, step + 1) <= bar for _, lp in s[1])
                if done:
                    del parents[len(parents) - len(s[1]):]
                    del next_tokens[len(next_tokens) - len(s[1]):]
            if done:
                results[s[0]] = list(best(s)[0][3])
            else:
                still.append(s)
        live = still
        if not live:
            break
        index = torch.tensor(parents, dtype=torch.long)
        if not (len(parents) == logits.shape[0] and parents == list(range(len(parents)))):
            dec.reorder(state, index)
        tokens = torch.tensor(next_tokens, dtype=torch.long)
        step += 1
    return results


def source_batch(torch, sources):
    lengths = [len(s) for s in sources]
    S = max(lengths)
    src = torch.full((len(sources), S), PAD, dtype=torch.long)
    for i, s in enumerate(sources):
        src[i, :len(s)] = torch.tensor(s, dtype=torch.long)
    return src, padding_mask(torch, lengths, S)


def load_weights(torch, model, manifest_path):
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    blob = open(os.path.join(os.path.dirname(manifest_path), manifest["file"]), "rb").read()
    state = {}
    for entry in manifest["tensors"]:
        n = math.prod(entry["shape"])
        t = torch.frombuffer(bytearray(blob[entry["offset"]:entry["offset"] + 4 * n]), dtype=torch.float32)
        state[entry["name"]] = t.view(*entry["shape"])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"weights do not fit torch.nn.Transformer: missing {missing}, unexpected {unexpected}")


def full_recompute_check(torch, model, dec, sources, steps=6):
    """The incremental decoder's logits equal the full nn.Transformer forward at every step (same greedy prefix)."""
    src, src_pad = source_batch(torch, sources)
    state = dec.encode(src, src_pad)
    prefix = torch.full((len(sources), 1), BOS, dtype=torch.long)
    worst = 0.0
    for _ in range(steps):
        inc = dec.step(prefix[:, -1], state)
        full = model(src, src_pad, prefix, None)[:, -1]
        worst = max(worst, (inc - full).abs().max().item())
        prefix = torch.cat([prefix, inc.argmax(-1, keepdim=True)], dim=1)
    return worst


def run_decode(torch, args, data):
    cfg = data["config"]
    model = build_model(torch, cfg)
    load_weights(torch, model, args.weights)
    model.eval()
    dec = Incremental(torch, model, cfg)
    spec = data["decode"]
    sources = spec["sources"]
    max_length, alpha = spec["maxLength"], spec["lengthPenalty"]
    runs = []
    with torch.inference_mode():
        check = full_recompute_check(torch, model, dec, sources[:8])
        for run in spec["runs"]:
            batch, K, count = run["batch"], run["beam"], run["sentences"]
            chosen = sources[:count]
            outputs = []

            def go():
                for i in range(0, len(chosen), batch):
                    src, src_pad = source_batch(torch, chosen[i:i + batch])
                    if K == 1:
                        outputs.extend(greedy(torch, dec, src, src_pad, max_length))
                    else:
                        outputs.extend(beam(torch, dec, src, src_pad, K, max_length, alpha))

            # Warm-up on the first max(batch, warmupSentences) sentences, as the s2s side does, then the timed pass.
            warm = chosen[:max(batch, spec["warmupSentences"])]
            for i in range(0, len(warm), batch):
                src, src_pad = source_batch(torch, warm[i:i + batch])
                greedy(torch, dec, src, src_pad, max_length) if K == 1 else beam(torch, dec, src, src_pad, K, max_length, alpha)
            busy = Interference()
            t0 = time.perf_counter()
            busy.measure(go)
            sec = time.perf_counter() - t0
            runs.append({"batch": batch, "beam": K, "sentences": len(chosen), "seconds": sec, "others": busy.others, "outputs": outputs})
    return {"runs": runs, "incrementalVsFull": check}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["train", "decode"])
    parser.add_argument("--batches", required=True, help="JSON written by bench/transformer.ts")
    parser.add_argument("--weights", help="weights manifest (decode)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--first", type=int, default=None, help="first timed batch (default: --warmup)")
    args = parser.parse_args()

    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the machine
        print(json.dumps({"error": f"PyTorch is not installed for {sys.executable} ({err})"}))
        return
    torch.set_num_threads(args.threads)
    with open(args.batches, encoding="utf-8") as f:
        data = json.load(f)
    result = run_train(torch, args, data) if args.mode == "train" else run_decode(torch, args, data)
    result.update(environment(torch))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
