#!/usr/bin/env python3
"""Independent checks of `headcal data` output, with GPT-2's byte-level
decoding written from its definition (vocab.json + the bytes-to-unicode
table), Python's UTF-8 "replace" decoder and Python's json.

usage:
  ref_data.py docs VOCAB OUT.jsonl      write test documents (text, and ids
                                        that cut UTF-8 characters)
  ref_data.py check VOCAB B JSONL TEXT TOKENS RETOKENS.jsonl
        JSONL, TEXT, TOKENS: the three formats of one `headcal data` run
        with batch size B.  Checks each line, then writes every sequence
        back as a {"tokens": ids without BOS} document to RETOKENS.jsonl.
        Prints the sequence texts, one JSON string a line."""
import json
import sys

BOS = 50256


def byte_decoder():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def load_vocab(path):
    with open(path, encoding="utf-8") as f:
        return {i: t for t, i in json.load(f).items()}


def decode(vocab, dec, ids):
    return bytes(dec[c] for i in ids for c in vocab[i]).decode("utf-8", "replace")


def fail(msg):
    sys.exit("ref_data.py: " + msg)


def docs(vocab_path, out):
    vocab = load_vocab(vocab_path)
    enc = {b: c for c, b in byte_decoder().items()}
    tok = {t: i for i, t in vocab.items()}
    byte_ids = lambda bs: [tok[enc[b]] for b in bs]
    texts = [
        "Hello world.\nA second line, and a third:\n\tindented.",
        'Quotes "here", a backslash \\ and a bell \x07 and DEL \x7f.',
        "Unicode: café, naïve, 日本語, emoji 🎉 and more text after it.",
        "Short one",
    ]
    with open(out, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
        # "日" is e6 97 a5; cut after two bytes, then a lone continuation
        # byte, an overlong lead and a truncated 4-byte sequence.
        ids = byte_ids(b"x\xe6\x97") + byte_ids(b"y\xa5z\xc0\xafw\xf0\x9f\x8e")
        f.write(json.dumps({"tokens": ids}) + "\n")
        f.write(json.dumps({"tokens": byte_ids(b"ab\xe6\x97\xa5cd")}) + "\n")


def check(vocab_path, b, jsonl, text, tokens, retokens):
    vocab = load_vocab(vocab_path)
    dec = byte_decoder()
    rows = [json.loads(l) for l in open(jsonl, encoding="utf-8")]
    texts = open(text, encoding="utf-8").read().split("\n")[:-1]
    toks = open(tokens, encoding="utf-8").read().split("\n")[:-1]
    if not rows or len(texts) != len(rows) or len(toks) != len(rows):
        fail("the three formats disagree on the number of sequences")
    with open(retokens, "w") as out:
        for k, r in enumerate(rows):
            if set(r) != {"batch", "text", "tokens"} or r["batch"] != k // b:
                fail("line %d: bad keys or batch index: %r" % (k + 1, r))
            ids = r["tokens"]
            if ids[0] != BOS or len(ids) < 2:
                fail("line %d: does not start with BOS" % (k + 1))
            want = decode(vocab, dec, ids[1:])
            if r["text"] != want:
                fail("line %d: text %r, decoding gives %r" % (k + 1, r["text"], want))
            if texts[k] != json.dumps(want, ensure_ascii=False)[1:-1]:
                fail("line %d: text format %r" % (k + 1, texts[k]))
            if toks[k] != " ".join(map(str, ids)):
                fail("line %d: tokens format %r" % (k + 1, toks[k]))
            out.write(json.dumps({"tokens": ids[1:]}) + "\n")
            print(json.dumps(want))


if __name__ == "__main__":
    if sys.argv[1] == "docs":
        docs(sys.argv[2], sys.argv[3])
    else:
        check(sys.argv[2], int(sys.argv[3]), *sys.argv[4:8])
