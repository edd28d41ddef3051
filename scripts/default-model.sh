#!/bin/sh
# The explorer's bundled default model: until a trained model ships in
# data/, a small random GPT-2 written by `headcal synth` at setup time.
set -e
cd "$(dirname "$0")/.."
[ -f data/default/model.safetensors ] || ./headcal synth --out data/default --layers 4 --heads 4 \
    --d-model 64 --n-ctx 128 --seed 1
