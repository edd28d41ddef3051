#!/bin/sh
# Retrains the bundled model into train-run/default and installs it as
# data/default/{config.json,model.safetensors}: 900 steps of warmup and
# cosine decay, then the same run continued to 1500 steps (its cosine
# stretched over 1500 steps: the learning rate rises from 3e-4 to 1.2e-3 at
# step 900 and decays again; --extend lets the second phase change --steps).
# Each phase checkpoints every 50 steps and resumes when rerun after an
# interruption.
set -e
cd "$(dirname "$0")/.."
[ -f data/corpus/train.tokens ] || sh scripts/fetch-corpus.sh
extend=
for steps in 900 1500; do
    # a rerun after the second phase began goes straight to it
    if [ $steps = 900 ] && grep -Eqs '"steps":[[:space:]]*1500' train-run/default/train-options.json; then
        extend=--extend
        continue
    fi
    ./headcal train $extend --data data/corpus/train.tokens --eval data/corpus/eval.tokens --out train-run/default \
        --layers 6 --heads 8 --d-model 128 --n-ctx 128 --batch-size 8 --steps $steps --lr 3e-3 --warmup 30 \
        --eval-every 300 --save-every 50 --seed 1 --dtype f16
    extend=--extend
done
mkdir -p data/default
cp train-run/default/config.json train-run/default/model.safetensors data/default/
