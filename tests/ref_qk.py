#!/usr/bin/python3
"""Independent reference for `headcal qk` in float64 numpy on the raw HF
checkpoint: every embedding computed for the whole vocabulary, as the
notebook's get_effective_embedding_2 does, then the bag scores.

usage: ref_qk.py MODEL_DIR LAYER HEAD BAGS.json
       ref_qk.py MODEL_DIR LAYER HEAD --seed S BAGS BAG_SIZE
(the second form draws bag b as RandomState(S).permutation(d_vocab)[:BAG_SIZE],
the b-th permutation).  Prints {"scores": 3x3, "stderr": 3x3, "bags": [...]}."""
import json
import sys

import numpy as np

from ref_gpt2 import gelu_new, layernorm, load_safetensors


def embeddings(W, cfg):
    D, eps = cfg["n_embd"], cfg.get("layer_norm_epsilon", 1e-5)
    we = W["wte.weight"]
    p = "h.0."
    h = layernorm(we, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
    v = h @ W[p + "attn.c_attn.weight"][:, 2 * D:]
    resid_mid = we + v @ W[p + "attn.c_proj.weight"]
    h2 = layernorm(resid_mid, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
    mlp0 = gelu_new(h2 @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]) @ W[p + "mlp.c_proj.weight"] \
        + W[p + "mlp.c_proj.bias"]
    u = W.get("lm_head.weight", we) * W["ln_f.weight"]
    u = u - u.mean(1, keepdims=True)
    u = u - u.mean(0, keepdims=True)
    return {"W_E": we, "MLP0": mlp0, "W_EE": resid_mid + mlp0, "W_U": u}


def main():
    d, layer, head = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cfg = json.load(open(d + "/config.json"))
    W = load_safetensors(d + "/model.safetensors")
    if sys.argv[4] == "--seed":
        rs = np.random.RandomState(int(sys.argv[5]))
        V = W["wte.weight"].shape[0]
        bags = [rs.permutation(V)[:int(sys.argv[7])] for _ in range(int(sys.argv[6]))]
    else:
        bags = json.load(open(sys.argv[4]))
    X = embeddings(W, cfg)
    D, H = cfg["n_embd"], cfg["n_head"]
    dh, eps = D // H, cfg.get("layer_norm_epsilon", 1e-5)
    p = "h.%d." % layer
    Wqkv, bqkv = W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"]
    qs, ks = slice(head * dh, (head + 1) * dh), slice(D + head * dh, D + (head + 1) * dh)

    def project(name, cols, bag):
        h = layernorm(X[name][bag], W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        return h @ Wqkv[:, cols] + bqkv[cols]

    per_bag = np.zeros((len(bags), 3, 3))
    for b, bag in enumerate(bags):
        bag = np.asarray(bag)
        for i, qn in enumerate(["W_U", "MLP0", "W_EE"]):
            for j, kn in enumerate(["W_EE", "W_E", "MLP0"]):
                S = project(qn, qs, bag) @ project(kn, ks, bag).T / np.sqrt(dh)
                m = S.max(1)
                lse = m + np.log(np.exp(S - m[:, None]).sum(1))
                per_bag[b, i, j] = (np.diag(S) - lse).mean()
    n = len(bags)
    sem = per_bag.std(0, ddof=1) / np.sqrt(n) if n > 1 else None
    json.dump({"scores": per_bag.mean(0).tolist(), "stderr": None if sem is None else sem.tolist(),
               "bags": [[int(t) for t in bag] for bag in bags]}, sys.stdout)


if __name__ == "__main__":
    main()
