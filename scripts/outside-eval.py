#!/usr/bin/env python3
"""Bits per byte of a model on English from outside its training corpus.

    scripts/outside-eval.py HEADCAL MODEL_DIR SRC_DIR [TRAIN_TOKENS]

SRC_DIR holds the fetched sources (scripts/fetch-outside.sh).  For each
source the documents are written as JSON lines, every document is cut into
windows of 127 tokens after <|endoftext|> (`headcal run --chunk --seq-len
128`), and every token is scored once (`--heads none`, one window a batch;
a window's first token sees only <|endoftext|>).  Bits per byte is the
run's total next-token loss over the UTF-8 bytes of the scored tokens,
which does not depend on the tokenizer.  (A document's one-token tail makes
no window: it is not scored, and its bytes are not counted.)  With
TRAIN_TOKENS (data/corpus/train.tokens) the same text is also scored under
the training set's unigram frequencies with add-one smoothing: what word
frequencies alone give.
"""
import glob
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

SEQ_LEN = 128


def sotu(src):
    """The State of the Union addresses of 2010-2021 (public domain)."""
    files = sorted(glob.glob(os.path.join(src, "sotu", "package", "data", "*.txt")))
    picked = [f for f in files if "2010" <= os.path.basename(f)[:4] <= "2021"]
    return [open(f, encoding="utf-8").read().strip() for f in picked]


def python_tutorial(src):
    """The Python 3.11 tutorial's reStructuredText sources (PSF licence)."""
    files = sorted(glob.glob(os.path.join(src, "python-doc", "**", "tutorial", "*.rst.txt"), recursive=True))
    return [open(f, encoding="utf-8").read().strip() for f in files]


SOURCES = [("State of the Union addresses 2010-2021", sotu),
           ("Python 3.11 tutorial (reST sources)", python_tutorial)]


def tokens(headcal, model, text):
    out = subprocess.run([headcal, "tokenize", "--model", model], input=text.encode("utf-8"),
                         capture_output=True, check=True)
    return [int(t) for t in out.stdout.split()]


def token_bytes(headcal, model, t):
    out = subprocess.run([headcal, "detokenize", "--model", model], input=f"{t}\n".encode(),
                         capture_output=True, check=True)
    return len(out.stdout)


def unigram_bits(train_tokens, vocab, ids):
    counts = [1] * vocab
    with open(train_tokens, "rb") as f:
        data = f.read()
    for (t,) in struct.iter_unpack("<H", data):
        counts[t] += 1
    total = sum(counts)
    return -sum(math.log2(counts[t] / total) for t in ids)


def evaluate(headcal, model, name, docs, train_tokens):
    ids = [tokens(headcal, model, d) for d in docs]
    # the windows headcal makes: a one-token tail is no sequence and goes unscored
    lens = [min(SEQ_LEN - 1, len(i) - k) for i in ids for k in range(0, len(i), SEQ_LEN - 1)]
    tails = [i[-1] for i in ids if len(i) % (SEQ_LEN - 1) == 1]
    scored = [t for i in ids for t in (i[:-1] if len(i) % (SEQ_LEN - 1) == 1 else i)]
    lens = [n for n in lens if n >= 2]
    windows, n_tokens = len(lens), sum(lens)
    n_bytes = sum(len(d.encode("utf-8")) for d in docs) - sum(token_bytes(headcal, model, t) for t in tails)
    digest = hashlib.sha256("\n".join(docs).encode("utf-8")).hexdigest()
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "docs.jsonl")
        with open(data, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"text": d}) + "\n")
        out = os.path.join(tmp, "r.json")
        subprocess.run([headcal, "run", "--model", model, "--data", data, "--chunk",
                        "--seq-len", str(SEQ_LEN), "--batch-size", "1", "--batches", str(windows),
                        "--heads", "none", "--examples", "0", "--quiet", "--out", out], check=True)
        with open(out, encoding="utf-8") as f:
            r = json.load(f)
    if r["positions"] != n_tokens:
        sys.exit(f"outside-eval: {name}: {r['positions']} positions scored, {n_tokens} tokens in the text")
    nll = r["variants"][0]["nll_sum"]
    line = (f"{name}: {len(docs)} documents, {n_bytes} bytes, {n_tokens} tokens (sha256 {digest[:16]}): "
            f"{nll / n_tokens:.3f} nats/token, {nll / (n_bytes * math.log(2)):.3f} bits/byte")
    if train_tokens:
        with open(os.path.join(model, "config.json"), encoding="utf-8") as f:
            vocab = json.load(f)["vocab_size"]
        bits = unigram_bits(train_tokens, vocab, scored)
        line += f"; unigram {bits / n_bytes:.3f} bits/byte"
    print(line, flush=True)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__.strip().splitlines()[2].strip())
    headcal, model, src = sys.argv[1:4]
    train_tokens = sys.argv[4] if len(sys.argv) == 5 else None
    for name, read in SOURCES:
        docs = read(src)
        if not docs:
            sys.exit(f"outside-eval: {src}: no documents for {name}; run scripts/fetch-outside.sh")
        evaluate(headcal, model, name, docs, train_tokens)


main()
