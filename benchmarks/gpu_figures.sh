#!/usr/bin/env bash
# The GPU figures of the PseudoLabels and MultitaskSSL READMEs, in one run on a CUDA machine, from a checkout
# whose requirements are installed (the repository on PYTHONPATH will do):
#
#   bash benchmarks/gpu_figures.sh <log folder> [cuda:0]
#
# Builds the small embedded corpus and the Common Voice pseudo-labels (openSMILE, every core), then:
#   1. benchmarks/lld_torch.py, GPU rows, on the LibriSpeech-layout training set (69 min of audio);
#   2. the openSMILE comparisons of the torch descriptors, run on the GPU (tests/labellers, LLD_TEST_DEVICE);
#   3. benchmarks/multitask_throughput.py in bf16: pretrain_paper.yaml (paper-size CRDNN, the word selection)
#      and pretrain_selected.yaml with the speaker selection (voicing: the pitch chain), stored vs online targets;
#   4. a short bf16 run of pretrain_paper.yaml with online targets through train.py (its train_log is kept);
#   5. benchmarks/lld_torch.py, CPU rows, on the README's 200 Common Voice utterances (one thread).
# Each step writes <log folder>/<step>.log and has a time limit (STEP_LIMIT seconds, default 150); a failing
# step after the set-up does not stop the next ones.
set -uo pipefail
cd "$(dirname "$0")/.."
logs="$(mkdir -p "$1" && cd "$1" && pwd)"
device="${2:-cuda:0}"
root="$PWD"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
cores="$(nproc)"
. benchmarks/device_steps.sh

embedded_corpus_setup
setup extract bash -c "cd recipes/PseudoLabels && python extract.py hparams/extract.yaml \
    --data_folder $root/data/embedded/CommonVoice/en --prepare_folder $root/results/prepared/embedded/common_voice \
    --output_folder $root/results/pseudo_labels/embedded --num_workers $cores"

step lld_gpu python benchmarks/lld_torch.py --manifest results/prepared/embedded/librispeech/train-clean-100.csv \
    --utterances 1200 --repeats 2 --device "$device" --device_batch 128 --skip_cpu
step tests_on_gpu env LLD_TEST_DEVICE="$device" python -m pytest -q tests/labellers/test_lld_torch.py \
    tests/labellers/test_lld_pitch.py

# the selections' fragments: the speaker selection (voicing) and the word selection (RASTA L1), as the
# selection recipe writes them, unless given (SPEAKER_FRAGMENT, WORD_FRAGMENT)
speakers="${SPEAKER_FRAGMENT:-$root/results/pretext_selection/embedded_voxceleb/latest/workers_sparsemax.yaml}"
words="${WORD_FRAGMENT:-$root/results/pretext_selection/embedded_librispeech/latest/workers_sparsemax.yaml}"
labels="$root/results/pseudo_labels/embedded"
step throughput_paper python benchmarks/multitask_throughput.py --yamls hparams/pretrain_paper.yaml \
    --device "$device" --precision bf16 --batch_size 32 --num_workers 8 --lld_backends stored online \
    --overrides "{selection_fragment: $words, lld_folder: $labels}"
step throughput_selected python benchmarks/multitask_throughput.py --yamls hparams/pretrain_selected.yaml \
    --device "$device" --precision bf16 --batch_size 32 --num_workers 8 --lld_backends stored online \
    --overrides "{selection_fragment: $speakers, lld_folder: $labels}"
step train_paper bash -c "cd recipes/MultitaskSSL && python train.py hparams/pretrain_paper.yaml --device $device \
    --precision bf16 --lld_backend online --lld_folder $labels --selection_fragment $words \
    --number_of_epochs ${PAPER_EPOCHS:-10} --output_folder $root/results/multitask_ssl/paper_gpu"
cp results/multitask_ssl/paper_gpu/train_log.txt "$logs/paper_train_log.txt" 2>/dev/null
step lld_cpu python benchmarks/lld_torch.py --manifest results/prepared/embedded/common_voice/train.csv \
    --utterances 200
cat "$logs/steps.txt"
