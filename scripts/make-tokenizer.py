#!/usr/bin/env python3
"""Writes the bundled model's tokenizer: GPT-2's byte-level BPE cut to its
first K merges (data/MODEL.md).

Standard library only.  GPT-2's vocab.json numbers its 256 byte tokens 0-255
and the token made by merge r (0-based line r of merges.txt) 256 + r, and
every merge joins tokens made by earlier merges; so the first K merges with
the tokens they make, the 256 byte tokens and <|endoftext|> (renumbered
256 + K) are a complete tokenizer of its own, whose ids below 256 + K are
GPT-2's.  The script checks those properties rather than trusting them, and
writes the two files in the source files' own formats.
"""
import argparse
import json
import os
import sys

EOT = "<|endoftext|>"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--merges", type=int, required=True, help="K: how many of GPT-2's merges to keep")
    ap.add_argument("--src", default="data", help="directory with GPT-2's vocab.json and merges.txt")
    ap.add_argument("--out", default="data/default", help="where the cut vocab.json and merges.txt go")
    a = ap.parse_args()

    with open(os.path.join(a.src, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(a.src, "merges.txt"), encoding="utf-8") as f:
        header = f.readline()
        merges = [ln.rstrip("\n") for ln in f if ln.strip()]
    if not header.startswith("#version") or not 0 <= a.merges <= len(merges):
        sys.exit("make-tokenizer: %s/merges.txt has %d merges; --merges %d is out of range"
                 % (a.src, len(merges), a.merges))

    keep = {tok: i for tok, i in vocab.items() if i < 256}
    if sorted(keep.values()) != list(range(256)):
        sys.exit("make-tokenizer: %s/vocab.json lacks GPT-2's byte tokens 0-255" % a.src)
    for r, ln in enumerate(merges[:a.merges]):
        left, right = ln.split(" ")
        if left not in keep or right not in keep or vocab.get(left + right) != 256 + r:
            sys.exit("make-tokenizer: merge %d (%s) is not GPT-2's: its parts or its id differ" % (r, ln))
        keep[left + right] = 256 + r
    keep[EOT] = 256 + a.merges

    os.makedirs(a.out, exist_ok=True)
    # HF's GPT-2 files: vocab.json one line, ", " and ": " separators,
    # non-ASCII escaped; merges.txt the version line then one merge a line.
    with open(os.path.join(a.out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(keep, f)
    with open(os.path.join(a.out, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(header)
        f.write("".join(ln + "\n" for ln in merges[:a.merges]))
    print("%s: %d tokens (%d merges, <|endoftext|> = %d)" % (a.out, len(keep), a.merges, keep[EOT]))


if __name__ == "__main__":
    sys.exit(main())
