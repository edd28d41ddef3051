#!/bin/sh
# Retrains the bundled model into train-run/default and installs it as
# data/default/{config.json,model.safetensors}.  Rerunning after an
# interruption resumes from the last checkpoint (every 50 steps).
set -e
cd "$(dirname "$0")/.."
[ -f data/corpus/train.tokens ] || sh scripts/fetch-corpus.sh
./headcal train --data data/corpus/train.tokens --eval data/corpus/eval.tokens --out train-run/default \
    --layers 6 --heads 8 --d-model 128 --n-ctx 128 --batch-size 8 --steps 900 --lr 3e-3 --warmup 30 \
    --eval-every 300 --save-every 50 --seed 1 --dtype f16
mkdir -p data/default
cp train-run/default/config.json train-run/default/model.safetensors data/default/
sh scripts/default-model.sh
