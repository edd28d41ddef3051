#!/usr/bin/python3
"""Independent float64 GPT-2 forward pass in numpy, straight from the HF
checkpoint (its own safetensors reader, no weight processing).

usage: ref_gpt2.py MODEL_DIR LOGITS.npy ID [ID ...]
Prints the max |Δ logit| between LOGITS.npy (from headcal) and the
reference, after removing each row's mean from both."""
import json
import struct
import sys

import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def load_safetensors(path, dtype=np.float64):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        buf = data[b:end]
        if e["dtype"] == "BF16":
            u = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(DT[e["dtype"]]).newbyteorder("<"))
        name = name[len("transformer."):] if name.startswith("transformer.") else name
        out[name] = arr.astype(dtype).reshape(e["shape"])
    return out


def layernorm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(d, cfg, ids):
    W = load_safetensors(d + "/model.safetensors")
    L, H, D = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    S = len(ids)
    x = W["wte.weight"][ids] + W["wpe.weight"][:S]
    dh = D // H
    mask = np.triu(np.full((S, S), -np.inf), 1)
    for l in range(L):
        p = "h.%d." % l
        h = layernorm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = qkv[:, :D], qkv[:, D:2 * D], qkv[:, 2 * D:]
        z = np.zeros((S, D))
        for hh in range(H):
            sl = slice(hh * dh, (hh + 1) * dh)
            a = q[:, sl] @ k[:, sl].T / np.sqrt(dh) + mask
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            z[:, sl] = a @ v[:, sl]
        x = x + z @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = layernorm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        m = gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    h = layernorm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
    head = W.get("lm_head.weight", W["wte.weight"])
    return h @ head.T


def main():
    d, npy = sys.argv[1], sys.argv[2]
    ids = [int(t) for t in sys.argv[3:]]
    cfg = json.load(open(d + "/config.json"))
    ref = forward(d, cfg, ids)
    got = np.load(npy).astype(np.float64)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    ref -= ref.mean(-1, keepdims=True)
    got -= got.mean(-1, keepdims=True)
    print("%.9g" % np.abs(ref - got).max())


if __name__ == "__main__":
    main()
