#!/usr/bin/env bash
# The GPU figures of the LGL README's Speed section in one run on a CUDA machine, from a checkout whose
# requirements are installed (the repository on PYTHONPATH will do), with the original's Stage1 folder beside it
# (scikit-learn and scipy installed, which the original imports). On a machine that has torch, torchaudio,
# transformers and scikit-learn but no network, fetch the rest beforehand for its Python (about 12 MB):
#   pip download --python-version 3.12 --only-binary=:all: --platform manylinux2014_x86_64 \
#       --platform manylinux_2_28_x86_64 --no-deps -d wheels \
#       speechbrain==1.1.2 hyperpyyaml==1.2.3 ruamel.yaml ruamel.yaml.clib soundfile==0.14.0 cffi pycparser \
#       espeakng-loader==0.2.4
# and install them there with `pip install --no-index --find-links wheels speechbrain soundfile espeakng-loader`:
#
#   git --git-dir=<mirror of TaoRuijie/Loss-Gated-Learning> archive HEAD -- Stage1 ':(exclude)Stage1/rir.npy' \
#       | tar -x -C /tmp/lgl_original
#   bash benchmarks/lgl_gpu_figures.sh <log folder> /tmp/lgl_original/Stage1 [cuda:0]
#
# Builds the small embedded corpus, then times Stage-1 training epochs of the original and ours on the same
# 6000 utterances (benchmarks/lgl_stage1_throughput.py: batch 300, C = 512, the original at its default 4 loader
# processes and at 8 and 12, ours in float32 and bf16), and the two encoders alone at batch 300
# (benchmarks/lgl_ecapa_step.py: three views forward and backward, as a Stage-1 step). Each step writes
# <log folder>/<step>.log and has a time limit (STEP_LIMIT seconds; 420 for the throughput step unless set).
set -uo pipefail
usage="usage: bash $0 <log folder> <original Stage1 folder> [device]"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
cd "$(dirname "$0")/.."
logs="$(mkdir -p "$1" && cd "$1" && pwd)"
original="$(cd "$2" && pwd)" || { echo "$usage" >&2; exit 2; }
[ -f "$original/model.py" ] || { echo "$original holds no model.py: give the original's Stage1 folder" >&2; exit 2; }
device="${3:-cuda:0}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
. benchmarks/device_steps.sh

embedded_corpus_setup
STEP_LIMIT="${STEP_LIMIT:-420}" step stage1_throughput python benchmarks/lgl_stage1_throughput.py \
    --original "$original" --device "$device" --train_csv results/prepared/embedded/librispeech/train-clean-100.csv \
    --items 6000 --batch_size 300 --num_workers 4 8 12 --precisions fp32 bf16 --epochs 3
STEP_LIMIT=120 step ecapa_step python benchmarks/lgl_ecapa_step.py --original "$original" --device "$device" \
    --batch_size 300
tail -n 12 "$logs/stage1_throughput.log"
tail -n 6 "$logs/ecapa_step.log"
cat "$logs/steps.txt"
