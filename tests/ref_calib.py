#!/usr/bin/python3
"""Independent reference for the ablation sweep: the notebook's algorithm
(full logits, subtract each component's direct effect, softmax, top-k,
bins) in float64 numpy on the raw HF checkpoint, with the direct effect
written as docs/design.md states it (no TransformerLens processing).

usage: ref_calib.py SPEC.json OUT.json
SPEC: {"model": DIR, "top_k": k, "bins": n, "ablation": "zero"|"mean",
       "ln": "frozen"|"recompute", "variants": [[["head", l, h] | ["mlp", l], ...], ...],
       "batches": [[[ids...], ...], ...]}
OUT:  {"variants": [{"count": [...], "correct": [...], "nll": sum, "entropy": sum,
        "top1": [...]}, ...]}"""
import json
import sys

import numpy as np

from ref_gpt2 import gelu_new, layernorm, load_safetensors


def run(W, cfg, ids):
    """Logits' ingredients for one sequence: final residual, per-head
    results r[l][h] and MLP outputs (each centred over d_model)."""
    L, H, D = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    S, dh = len(ids), D // H
    x = W["wte.weight"][ids] + W["wpe.weight"][:S]
    mask = np.triu(np.full((S, S), -np.inf), 1)
    heads, mlps = {}, {}
    for l in range(L):
        p = "h.%d." % l
        h = layernorm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        # the value bias TransformerLens folds into b_O: the raw one plus
        # ln_1's bias carried through W_V
        bv = W[p + "attn.c_attn.bias"][2 * D:] + W[p + "ln_1.bias"] @ W[p + "attn.c_attn.weight"][:, 2 * D:]
        Wo = W[p + "attn.c_proj.weight"]
        attn = np.zeros((S, D))
        for hh in range(H):
            sl = slice(hh * dh, (hh + 1) * dh)
            a = qkv[:, sl] @ qkv[:, D:][:, sl].T / np.sqrt(dh) + mask
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            z = a @ qkv[:, 2 * D:][:, sl]
            attn += z @ Wo[sl]
            r = (z - bv[sl]) @ Wo[sl]          # the head's output without any bias
            heads[(l, hh)] = r - r.mean(-1, keepdims=True)
        x = x + attn + W[p + "attn.c_proj.bias"]
        h = layernorm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        m = gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]) @ W[p + "mlp.c_proj.weight"] \
            + W[p + "mlp.c_proj.bias"]
        mlps[l] = m - m.mean(-1, keepdims=True)
        x = x + m
    return x, heads, mlps


def main():
    spec = json.load(open(sys.argv[1]))
    d = spec["model"]
    cfg = json.load(open(d + "/config.json"))
    W = load_safetensors(d + "/model.safetensors")
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    WU = W.get("lm_head.weight", W["wte.weight"]).T
    gamma, beta = W["ln_f.weight"], W["ln_f.bias"]
    k, nb = spec["top_k"], spec["bins"]
    seqs = [row for batch in spec["batches"] for row in batch]
    runs = [run(W, cfg, np.array(ids)) for ids in seqs]

    def comp(rn, c):
        return rn[1][(c[1], c[2])] if c[0] == "head" else rn[2][c[1]]

    means = {}
    if spec["ablation"] == "mean":
        S = max(len(s) for s in seqs)
        for v in spec["variants"]:
            for c in v:
                key = tuple(c)
                tot, cnt = np.zeros((S, cfg["n_embd"])), np.zeros(S)
                for rn in runs:
                    r = comp(rn, c)
                    tot[:len(r)] += r
                    cnt[:len(r)] += 1
                means[key] = tot / np.maximum(cnt, 1)[:, None]

    out = []
    for v in spec["variants"]:
        count, correct = np.zeros(nb, dtype=np.int64), np.zeros(nb, dtype=np.int64)
        nll = ent = 0.0
        top1 = []
        for ids, rn in zip(seqs, runs):
            x = rn[0][:-1]
            S = len(x)
            r = np.zeros_like(x)
            for c in v:
                rc = comp(rn, c)[:-1]
                if spec["ablation"] == "mean":
                    rc = rc - means[tuple(c)][:S]
                r += rc
            xc = x - x.mean(-1, keepdims=True)
            sigma = np.sqrt((xc ** 2).mean(-1, keepdims=True) + eps)
            logits = layernorm(x, gamma, beta, eps) @ WU
            if spec["ln"] == "recompute":
                logits = layernorm(x - r, gamma, beta, eps) @ WU
            else:
                logits = logits - ((r / sigma) * gamma) @ WU
            logits -= logits.max(-1, keepdims=True)
            lse = np.log(np.exp(logits).sum(-1))
            logp = logits - lse[:, None]
            p = np.exp(logp)
            nxt = np.array(ids[1:])
            nll += -logp[np.arange(S), nxt].sum()
            ent += -(p * logp).sum()
            idx = np.argpartition(-p, k - 1, axis=-1)[:, :k]
            tp = np.take_along_axis(p, idx, -1)
            order = np.argsort(-tp, axis=-1, kind="stable")
            idx, tp = np.take_along_axis(idx, order, -1), np.take_along_axis(tp, order, -1)
            b = np.minimum(np.floor(tp * nb).astype(int), nb - 1)
            ok = idx == nxt[:, None]
            np.add.at(count, b.ravel(), 1)
            np.add.at(correct, b[ok], 1)
            top1 += tp[:, 0].tolist()
        out.append({"count": count.tolist(), "correct": correct.tolist(), "nll": nll, "entropy": ent,
                    "top1": top1})
    json.dump({"variants": out}, open(sys.argv[2], "w"))


main()
