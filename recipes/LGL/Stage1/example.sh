#!/usr/bin/env bash
# LGL Stage 1 on the embedded corpus, from a fresh clone: the contrastive ECAPA-TDNN (with the
# augmentation-adversarial term), every epoch scored on the validation trials, the best one on the test trials.
#
#   bash example.sh                              # small corpus, seed 0, 12 epochs
#   bash example.sh --size tiny --epochs 1       # a quick check
#   bash example.sh --val_dev_utterances 12      # validate on 12 utterances of each dev speaker (4 by default)
#   bash example.sh --train_data pooled          # train on every speech layout (results/lgl/<corpus>_pooled)
#
# A finished or interrupted run resumes from its checkpoints.
# Outputs: results/lgl/<corpus>/stage1 (score.txt, metrics.json, det_test.png, save/embedder.ckpt for Stage 2).
set -euo pipefail
cd "$(dirname "$0")/../../.."
root="$PWD"

epochs=12
val_dev_utterances=""  # the YAML's
train_data=vox2  # or pooled (lgl_paths.sh)
usage="[--size tiny|small] [--seed S] [--epochs N] [--val_dev_utterances N] [--train_data vox2|pooled]"
. tools/embedded_paths.sh
parse_options "epochs val_dev_utterances train_data" "$@"
lgl_train_suffix "$train_data" >/dev/null
embedded_paths
embedded_env
. recipes/LGL/lgl_paths.sh
require_stage1_validation

echo "== LGL Stage 1 (contrastive, $epochs epochs) -> $out/stage1"
(cd recipes/LGL/Stage1 && python train.py hparams/contrastive.yaml "${data_args[@]}" \
    --output_folder "$out/stage1" --number_of_epochs "$epochs" --noprogressbar "${small[@]}")
echo "Stage 1: $out/stage1/metrics.json; embedder for Stage 2: $out/stage1/save/embedder.ckpt"
