#!/usr/bin/env bash
# LGL Stage 2 on the embedded corpus, from a fresh clone: k-means pseudo-labels, AAM-softmax, the loss gate
# (hparams/lgl.yaml) and the same schedule without it (hparams/baseline.yaml), from the Stage-1 embedder
# (Stage1/example.sh runs first when it is missing).
#
#   bash example.sh                                      # small corpus, seed 0, at most 12 epochs each
#   bash example.sh --experiments lgl --epochs 30
#   bash example.sh --size tiny --epochs 2               # a quick check (a 1-epoch Stage 1 if missing)
#   bash example.sh --train_data pooled                  # train on every speech layout (results/lgl/<corpus>_pooled)
#
# A finished or interrupted run resumes where it was (phase, iteration, clustering).
# Outputs: results/lgl/<corpus>/stage2_<experiment> (score.txt, clusters.txt, metrics.json, det_test.png).
set -euo pipefail
cd "$(dirname "$0")/../../.."
root="$PWD"

epochs=12
experiments="lgl baseline"
train_data=vox2  # or pooled (lgl_paths.sh)
usage="[--size tiny|small] [--seed S] [--epochs N] [--experiments \"lgl baseline\"] [--train_data vox2|pooled]"
. tools/embedded_paths.sh
parse_options "epochs experiments train_data" "$@"
lgl_train_suffix "$train_data" >/dev/null
for experiment in $experiments; do
    [ -f "recipes/LGL/Stage2/hparams/$experiment.yaml" ] \
        || embedded_usage "--experiments $experiment (no recipes/LGL/Stage2/hparams/$experiment.yaml)"
done
embedded_paths
embedded_env
. recipes/LGL/lgl_paths.sh

embedder="$out/stage1/save/embedder.ckpt"
if [ ! -f "$embedder" ]; then
    stage1_epochs=12
    [ "$size" = tiny ] && stage1_epochs=1
    bash recipes/LGL/Stage1/example.sh --size "$size" --seed "$seed" --epochs "$stage1_epochs" \
        --train_data "$train_data"
fi
for experiment in $experiments; do
    echo "== LGL Stage 2 ($experiment, at most $epochs epochs) -> $out/stage2_$experiment"
    (cd recipes/LGL/Stage2 && python train.py "hparams/$experiment.yaml" "${data_args[@]}" \
        --stage1_embedder "$embedder" --output_folder "$out/stage2_$experiment" \
        --max_epochs "$epochs" --patience 2 --n_clusters "$clusters" --noprogressbar "${small[@]}")
    echo "Stage 2 ($experiment): $out/stage2_$experiment/metrics.json"
done
