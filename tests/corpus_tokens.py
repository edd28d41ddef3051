#!/usr/bin/env python3
"""For test_train.c: encodes data/eval.jsonl with scripts/make-corpus.py's
tokenizer over the vocab.json and merges.txt in TOKDIR, as the corpus recipe
does (<|endoftext|> before every document),
writes the same documents as one text to OUT.txt with literal
<|endoftext|> separators, and the recipe's ids to OUT.ids, so the test can
check them against `headcal tokenize`."""
import importlib.util
import json
import os
import sys

src, tokdir, out = sys.argv[1], sys.argv[2], sys.argv[3]
spec = importlib.util.spec_from_file_location("make_corpus", os.path.join(src, "scripts", "make-corpus.py"))
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)
tk = mc.Tokenizer(tokdir)
ids, text = [], []
with open(os.path.join(src, "data", "eval.jsonl"), encoding="utf-8") as f:
    for line in f:
        doc = json.loads(line)["text"]
        ids.append(tk.eot)
        ids.extend(tk.encode(doc))
        text.append("<|endoftext|>" + doc)
with open(out + ".txt", "w", encoding="utf-8") as f:
    f.write("".join(text))
with open(out + ".ids", "w") as f:
    f.write(" ".join(map(str, ids)) + "\n")
