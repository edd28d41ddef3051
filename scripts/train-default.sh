#!/bin/sh
# Retrains the bundled model into train-run/default and installs it as
# data/default/{config.json,model.safetensors} (data/MODEL.md): one run of
# warmup and cosine decay, checkpointed every 200 steps, that resumes where
# it stopped when rerun after an interruption.
set -e
cd "$(dirname "$0")/.."
[ -f data/corpus/train.tokens ] || sh scripts/fetch-corpus.sh
mkdir -p train-run
./headcal train --data data/corpus/train.tokens --eval data/corpus/eval.tokens --out train-run/default \
    --layers 6 --heads 8 --d-model 192 --n-ctx 128 --vocab 8192 --batch-size 16 --steps 9000 --lr 3e-3 \
    --warmup 100 --eval-every 1000 --save-every 200 --seed 1 --dtype f16 --tokenizer data/default
cp train-run/default/config.json train-run/default/model.safetensors data/default/
