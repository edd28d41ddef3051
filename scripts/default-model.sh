#!/bin/sh
# The bundled default model ships as data/default/{config.json,
# model.safetensors} (trained by scripts/train-default.sh, data/MODEL.md);
# its tokenizer is the bundled one, copied beside it (the copies are not
# committed) so that the directory loads like any HF checkpoint.
set -e
cd "$(dirname "$0")/.."
for f in vocab.json merges.txt; do
    [ -f data/default/$f ] || cp data/$f data/default/$f
done
