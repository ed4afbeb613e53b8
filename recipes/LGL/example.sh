#!/usr/bin/env bash
# Loss-gated learning on the embedded corpus, from a fresh clone: Stage 1 (contrastive), then Stage 2 with
# the loss gate and without it (the baseline), then the results table with the training-free baseline.
#
#   bash example.sh                                        # small corpus, seed 0
#   bash example.sh --stage1_epochs 20 --stage2_epochs 30  # longer
#   bash example.sh --size tiny --stage1_epochs 1 --stage2_epochs 2   # a quick check
#
# Finished runs resume or are reused (each train.py resumes from its checkpoints).
# Outputs: results/lgl/<corpus>/{stage1,stage2_lgl,stage2_baseline} and results/report/08_lgl.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

stage1_epochs=12
stage2_epochs=12
usage="[--size tiny|small] [--seed S] [--stage1_epochs N] [--stage2_epochs N]"
. tools/embedded_paths.sh
parse_options "stage1_epochs stage2_epochs" "$@"
embedded_paths
embedded_env

out="$root/results/lgl/$name"
# as many clusters as the training set has speakers (the paper: 6000 for VoxCeleb2's 5994), a known count
clusters=$(find "$data/VoxCeleb/vox2/dev/wav" -mindepth 1 -maxdepth 1 -type d | wc -l)
small=()
[ "$size" = tiny ] && small=(--batch_size 8)  # 16 training utterances
data_args=(--data_folder "$root/$data/VoxCeleb/vox1" --vox2_folder "$root/$data/VoxCeleb/vox2/dev/wav"
           --noise_rir_data_folder "$root/$data" --prepare_folder "$out/prepared")
echo "== LGL Stage 1 (contrastive, $stage1_epochs epochs) -> $out/stage1"
(cd recipes/LGL/Stage1 && python train.py hparams/contrastive.yaml "${data_args[@]}" \
    --output_folder "$out/stage1" --number_of_epochs "$stage1_epochs" --noprogressbar "${small[@]}")
for experiment in lgl baseline; do
    echo "== LGL Stage 2 ($experiment, at most $stage2_epochs epochs) -> $out/stage2_$experiment"
    (cd recipes/LGL/Stage2 && python train.py "hparams/$experiment.yaml" "${data_args[@]}" \
        --stage1_embedder "$out/stage1/save/embedder.ckpt" --output_folder "$out/stage2_$experiment" \
        --max_epochs "$stage2_epochs" --patience 2 --n_clusters "$clusters" --noprogressbar "${small[@]}")
done
python recipes/LGL/report.py --stage1 "$out/stage1" --lgl "$out/stage2_lgl" --baseline "$out/stage2_baseline" \
    --data_folder "$root/$data/VoxCeleb/vox1" --report "$root/$report"
