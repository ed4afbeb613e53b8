#!/usr/bin/env bash
# Loss-gated learning on the embedded corpus, from a fresh clone: Stage 1 (contrastive, Stage1/example.sh), then
# Stage 2 with the loss gate and without it (the baseline, Stage2/example.sh), then the results table with the
# training-free baseline.
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

. recipes/LGL/lgl_paths.sh
bash recipes/LGL/Stage1/example.sh --size "$size" --seed "$seed" --epochs "$stage1_epochs"
bash recipes/LGL/Stage2/example.sh --size "$size" --seed "$seed" --epochs "$stage2_epochs"
python recipes/LGL/report.py --stage1 "$out/stage1" --lgl "$out/stage2_lgl" --baseline "$out/stage2_baseline" \
    --data_folder "$root/$data/VoxCeleb/vox1" --report "$root/$report"
