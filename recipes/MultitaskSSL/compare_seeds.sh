#!/usr/bin/env bash
# The pretraining comparison with three pretraining seeds, on the embedded corpus, from a fresh clone: every
# experiment pretrained once per seed (recipes/MultitaskSSL/example.sh --pretrain_seeds), every encoder and its
# baselines (Fbank, MFCC, the random twins, each over three downstream seeds) through the downstream recipes,
# one table of mean ± std per row.
#
#   bash compare_seeds.sh                                   # the speaker tasks, 3 seeds (about 90 min on 2 cores)
#   bash compare_seeds.sh --experiments selected_speakers --pretrain_seeds "1986 1987"
#   bash compare_seeds.sh --experiments selected_speakers --data common_voice --epochs 15   # rows <experiment>_cv
#
# Finished pretrainings and downstream runs are reused (delete their folders to redo them).
# Outputs: results/downstream/<corpus>/seeds/ (seeds.md, seeds.png, one folder per run).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

experiments="alpharatio selected_speakers selected_speakers_softmax selected_speakers_uniform pase"
pretrain_seeds="1986 1987 1988"
tasks="verification speaker_id"
epochs=10
data=pooled  # the pretraining data (recipes/MultitaskSSL/example.sh --data); embedded_paths reuses the name
usage="[--size tiny|small] [--seed S] [--experiments \"...\"] [--pretrain_seeds \"1986 1987 1988\"] [--tasks \"verification speaker_id\"] [--epochs E] [--data pooled|common_voice]"
. tools/embedded_paths.sh
parse_options "experiments pretrain_seeds tasks epochs data" "$@"
data_choice=$data suffix=$(pretrain_data_suffix "$data")
embedded_paths
embedded_env

start=$(date +%s)
bash recipes/MultitaskSSL/example.sh --size "$size" --seed "$seed" --epochs "$epochs" \
    --experiments "$experiments" --pretrain_seeds "$pretrain_seeds" --data "$data_choice"

out="$root/results/downstream/$name/seeds"
folders=()
for experiment in $experiments; do
    for pretrain_seed in $pretrain_seeds; do
        folders+=("results/multitask_ssl/$name/$(pretrain_run_name "$experiment$suffix" "$pretrain_seed")/save/pretrained_encoder")
    done
done
encoder_specs "${folders[@]}"  # each pretrained encoder, and one random twin per architecture
common=(--tasks $tasks --settings small --jobs "$(nproc)" --data "$root/$data" --prepared "$root/$prepared" --out "$out")
# the baselines have no pretraining seed: their spread is over three downstream seeds
python recipes/Downstream/compare.py --encoders fbank mfcc "${twin_specs[@]}" --seeds 0 1 2 "${common[@]}"
python recipes/Downstream/compare.py --encoders "${pretrained_specs[@]}" --seeds 0 "${common[@]}"
python recipes/MultitaskSSL/seed_table.py "$out" --tasks $tasks
echo "three-seed comparison: $out/seeds.md ($(( ($(date +%s) - start) / 60 )) min)"
