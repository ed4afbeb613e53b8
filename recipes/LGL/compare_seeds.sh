#!/usr/bin/env bash
# Stage 2 over seeds and learning rates, from one Stage-1 model, on the embedded corpus; then the table of
# mean ± std (stage2_seeds.py) next to Stage 1, and each run's test EER minus Stage 1's with a 95 % interval over
# resamples of the test speakers. Every model is selected on the validation trials.
#
#   bash compare_seeds.sh                                           # lgl, lr 0.001 and 0.0002, seeds 1986-1988
#   bash compare_seeds.sh --experiments "lgl baseline" --lrs 0.0002 --epochs 20
#   bash compare_seeds.sh --experiments "lgl baseline" --lrs 0.001 --head_init centroids   # rows <experiment>_centroids
#   bash compare_seeds.sh --experiments "lgl baseline" --lrs 0.001 --val_dev_utterances 12  # a longer validation list
#   bash compare_seeds.sh --experiments "lgl baseline" --lrs 0.001 --train_data pooled  # every speech layout
#   bash compare_seeds.sh --experiments "lgl baseline" --lrs 0.001 --train_data pooled --patience 4 --epochs 40
#
# Runs that finished are reused (each train.py resumes from its checkpoints).
# Outputs: results/lgl/<corpus>/seeds/<experiment>[_centroids][_patience<N>]_lr<lr>/<seed>/ and results/lgl/<corpus>/seeds/seeds.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

stage1_epochs=10
epochs=10
experiments="lgl"
lrs="0.001 0.0002"
stage2_seeds="1986 1987 1988"
head_init=random  # or centroids (hparams/lgl.yaml's head_init)
val_dev_utterances=""  # utterances per dev speaker in the validation list; the YAMLs' 4
train_data=vox2  # or pooled: every speech layout's training split (lgl_paths.sh)
patience=2  # validations without improvement that end a phase (the YAMLs' 4; 2 keeps the 10-epoch runs short)
usage="[--size tiny|small] [--seed S] [--stage1_epochs N] [--epochs N] [--experiments \"lgl baseline\"] [--lrs \"0.001 0.0002\"] [--stage2_seeds \"1986 1987\"] [--head_init random|centroids] [--val_dev_utterances N] [--train_data vox2|pooled] [--patience N]"
. tools/embedded_paths.sh
parse_options "stage1_epochs epochs experiments lrs stage2_seeds head_init val_dev_utterances train_data patience" "$@"
lgl_train_suffix "$train_data" >/dev/null
variant_suffix=""
[ "$head_init" = random ] || variant_suffix="_$head_init"
[ "$patience" = 2 ] || variant_suffix+="_patience$patience"  # never resumes a run of another schedule
embedded_paths
embedded_env
. recipes/LGL/lgl_paths.sh

require_stage1_validation
[ -f "$out/stage1/save/embedder.ckpt" ] || bash recipes/LGL/Stage1/example.sh --size "$size" --seed "$seed" \
    --epochs "$stage1_epochs" --train_data "$train_data" \
    ${val_dev_utterances:+--val_dev_utterances "$val_dev_utterances"}
for stage2_seed in $stage2_seeds; do  # seeds outermost: a partial sweep compares every variant
  for experiment in $experiments; do
    for lr in $lrs; do
      run="$out/seeds/${experiment}${variant_suffix}_lr$lr/$stage2_seed"
      echo "== LGL Stage 2 ($experiment, lr $lr, seed $stage2_seed, at most $epochs epochs) -> $run"
      (cd recipes/LGL/Stage2 && python train.py "hparams/$experiment.yaml" "${data_args[@]}" \
          --stage1_embedder "$out/stage1/save/embedder.ckpt" --output_folder "$run" --seed "$stage2_seed" \
          --lr "$lr" --head_init "$head_init" --max_epochs "$epochs" --patience "$patience" --n_clusters "$clusters" --noprogressbar "${small[@]}")
    done
  done
done
python recipes/LGL/stage2_seeds.py "$out/seeds" --stage1 "$out/stage1" --test_csv "$out/prepared/test.csv"
