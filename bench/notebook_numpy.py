#!/usr/bin/python3
"""The calibration notebook's per-head sweep as the notebook runs it, in
numpy float32 on the CPU: the model loaded and processed (fold_ln,
center_writing_weights, center_unembed), then per batch one forward pass
caching every head's result (use_attn_result) and the final LayerNorm
scale, and per head: logits - (result / scale) @ W_U, the full softmax,
the top-k and the calibration buckets.  bench_sweep runs it in the same
invocation, on the same model and tokens, for its end-to-end comparison.

usage: notebook_numpy.py MODEL_DIR TOKENS.npy BATCH HEADS TIMED_BATCHES

TOKENS.npy holds [sequences, seq_len] token ids (as float32).  Only the
first TIMED_BATCHES batches run, with HEADS heads each: the cost per token
of the forward pass, and per head and token of the sweep, is the same for
every batch and head, so the caller scales them to the whole run.  Prints
one JSON object of seconds."""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from ref_gpt2 import load_safetensors  # noqa: E402

TOP_K, N_BINS = 5, 100


def process(W, cfg):
    """TransformerLens's fold_ln, center_writing_weights, center_unembed."""
    L, D = cfg["n_layer"], cfg["n_embd"]
    P = {}

    def fold(w, b, ln_w, ln_b):
        # LayerNorm weight into the rows read, its bias into the bias, then
        # the reading weights centred over d_model as LayerNormPre expects
        b = b + ln_b @ w
        w = w * ln_w[:, None]
        return w - w.mean(0, keepdims=True), b

    for l in range(L):
        p = "h.%d." % l
        P[l, "qkv"] = fold(W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"], W[p + "ln_1.weight"],
                           W[p + "ln_1.bias"])
        w_o, b_o = W[p + "attn.c_proj.weight"], W[p + "attn.c_proj.bias"]
        P[l, "o"] = (w_o - w_o.mean(1, keepdims=True), b_o - b_o.mean())
        P[l, "in"] = fold(W[p + "mlp.c_fc.weight"], W[p + "mlp.c_fc.bias"], W[p + "ln_2.weight"], W[p + "ln_2.bias"])
        w_out, b_out = W[p + "mlp.c_proj.weight"], W[p + "mlp.c_proj.bias"]
        P[l, "out"] = (w_out - w_out.mean(1, keepdims=True), b_out - b_out.mean())
    wte = W["wte.weight"]
    P["W_E"] = wte - wte.mean(1, keepdims=True)
    P["W_pos"] = W["wpe.weight"] - W["wpe.weight"].mean(1, keepdims=True)
    w_u, b_u = fold(W.get("lm_head.weight", wte).T, np.zeros(wte.shape[0], np.float32), W["ln_f.weight"],
                    W["ln_f.bias"])
    P["W_U"] = np.ascontiguousarray(w_u - w_u.mean(1, keepdims=True))
    P["b_U"] = b_u - b_u.mean()
    return {k: np.ascontiguousarray(v, np.float32) if isinstance(v, np.ndarray) else tuple(
        np.ascontiguousarray(x, np.float32) for x in v) for k, v in P.items()}


def ln_pre(x, eps):
    x = x - x.mean(-1, keepdims=True)
    scale = np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    return x / scale, scale


def gelu_new(x):
    return 0.5 * x * (1 + np.tanh(np.float32(np.sqrt(2 / np.pi)) * (x + np.float32(0.044715) * x ** 3)))


def run_with_cache(P, cfg, toks):
    """Logits, every layer's per-head result [B, S, H, D] and ln_final's scale."""
    L, H, D = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    eps, dh = cfg.get("layer_norm_epsilon", 1e-5), D // H
    B, S = toks.shape
    x = P["W_E"][toks] + P["W_pos"][:S]
    mask = np.triu(np.full((S, S), -np.inf, np.float32), 1)
    results = []
    for l in range(L):
        h, _ = ln_pre(x, eps)
        w, b = P[l, "qkv"]
        qkv = (h @ w + b).reshape(B, S, 3, H, dh)
        q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
        a = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(dh)) + mask
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        z = (a @ v).transpose(0, 2, 1, 3)  # [B, S, H, dh]
        w_o, b_o = P[l, "o"]
        result = np.einsum("bshd,hdm->bshm", z, w_o.reshape(H, dh, D), optimize=True)
        results.append(result)
        x = x + result.sum(2) + b_o
        h, _ = ln_pre(x, eps)
        w, b = P[l, "in"]
        w_out, b_out = P[l, "out"]
        x = x + gelu_new(h @ w + b) @ w_out + b_out
    xn, scale = ln_pre(x, eps)
    return xn @ P["W_U"] + P["b_U"], results, scale


def calibrate(logits, next_toks, freq, correct):
    """softmax, top-k and the bucket counts of one variant, as the notebook."""
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    idx = np.argpartition(-probs, TOP_K, axis=-1)[..., :TOP_K]
    vals = np.take_along_axis(probs, idx, -1)
    order = np.argsort(-vals, -1)
    vals, idx = np.take_along_axis(vals, order, -1), np.take_along_axis(idx, order, -1)
    is_correct = idx == next_toks[..., None]
    bins = np.minimum((vals * N_BINS).astype(np.int64), N_BINS - 1)
    freq += np.bincount(bins.ravel(), minlength=N_BINS)
    correct += np.bincount(bins.ravel(), weights=is_correct.ravel(), minlength=N_BINS).astype(np.int64)


def main():
    model_dir, tok_path = sys.argv[1], sys.argv[2]
    batch, n_heads, timed_batches = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    t0 = time.perf_counter()
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    W = load_safetensors(os.path.join(model_dir, "model.safetensors"), np.float32)
    P = process(W, cfg)
    del W
    t_load = time.perf_counter() - t0
    toks_all = np.load(tok_path).astype(np.int64)
    H = cfg["n_head"]
    heads = [(cfg["n_layer"] - 1 - i % cfg["n_layer"], i % H) for i in range(n_heads)]
    freq = np.zeros((n_heads + 1, N_BINS), np.int64)
    correct = np.zeros_like(freq)
    t_fwd = t_heads = t_base = 0.0
    timed_tokens = fwd_tokens = 0
    for j in range(0, min(len(toks_all), batch * timed_batches), batch):
        toks = toks_all[j:j + batch]
        t0 = time.perf_counter()
        logits, results, scale = run_with_cache(P, cfg, toks)
        logits, scale = logits[:, :-1], scale[:, :-1]
        t_fwd += time.perf_counter() - t0
        fwd_tokens += toks.size
        next_toks = toks[:, 1:]
        timed_tokens += next_toks.size
        t0 = time.perf_counter()
        calibrate(logits, next_toks, freq[0], correct[0])
        t_base += time.perf_counter() - t0
        t0 = time.perf_counter()
        for i, (layer, h) in enumerate(heads):
            result = results[layer][:, :-1, h] / scale
            calibrate(logits - result @ P["W_U"], next_toks, freq[i + 1], correct[i + 1])
        t_heads += time.perf_counter() - t0
    print(json.dumps({"load_s": t_load, "forward_s_per_token": t_fwd / fwd_tokens,
                      "baseline_s_per_token": t_base / timed_tokens, "head_s_per_token": t_heads / n_heads / timed_tokens, "heads_timed": n_heads,
                      "tokens_timed": timed_tokens, "checksum": int(correct.sum())}))


if __name__ == "__main__":
    main()
