#!/usr/bin/env bash
# Multitask pretraining on the embedded Common Voice layout, from a fresh clone: the alphaRatio worker, the
# selected workers and the PASE workers, each encoder probed on speaker identification against its random twin.
#
#   bash example.sh                                              # small corpus, 15 epochs, three experiments
#   bash example.sh --size tiny --epochs 1 --experiments alpharatio   # a quick check
#
# Builds the corpus and manifests if missing, the Common Voice pseudo-labels (recipes/PseudoLabels/example.sh)
# and, for `selected` (any YAML with a `selection_fragment` key), the sparsemax fragment of the LibriSpeech
# selection (recipes/PretextSelection/example.sh) if they are missing (delete them to rebuild). Training
# resumes from its checkpoints on a rerun.
# Outputs: results/multitask_ssl/<corpus>/<experiment>/ (save/pretrained_encoder, probe.json, logs) and
# results/report/04_multitask_ssl.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

epochs=15
experiments="alpharatio selected pase"
usage="[--size tiny|small] [--seed S] [--epochs E] [--experiments \"alpharatio selected pase\"]"
. tools/embedded_paths.sh
while [ $# -gt 0 ]; do
    embedded_option "$@" && shift 2 && continue
    case "$1" in
        --epochs) epochs="$(option_value "$@")"; shift 2 ;;
        --experiments) experiments="$(option_value "$@")"; shift 2 ;;
        *) embedded_usage "$1" ;;
    esac
done
for experiment in $experiments; do
    [ -f "recipes/MultitaskSSL/hparams/pretrain_$experiment.yaml" ] \
        || embedded_usage "--experiments $experiment (no recipes/MultitaskSSL/hparams/pretrain_$experiment.yaml)"
done
embedded_paths
embedded_env

labels="results/pseudo_labels/$name"
fragment="results/pretext_selection/${name}_librispeech/latest/workers_sparsemax.yaml"
# failures.csv is the last file extract.py writes, so its presence means the extraction finished.
[ -f "$labels/failures.csv" ] || bash recipes/PseudoLabels/example.sh --size "$size" --seed "$seed"
wants_fragment() { grep -q '^selection_fragment:' "recipes/MultitaskSSL/hparams/pretrain_$1.yaml"; }
for experiment in $experiments; do
    if wants_fragment "$experiment" && [ ! -f "$fragment" ]; then
        bash recipes/PretextSelection/example.sh --size "$size" --seed "$seed"
    fi
done

runs=()
for experiment in $experiments; do
    out="$root/results/multitask_ssl/$name/$experiment"
    echo "== multitask pretraining ($experiment, $epochs epochs) and speaker probe -> $out"
    extra=()  # the selected workers: the sparsemax fragment of the ASR selection
    wants_fragment "$experiment" && extra=(--selection_fragment "$root/$fragment")
    (cd recipes/MultitaskSSL && python train.py "hparams/pretrain_$experiment.yaml" \
        --data_folder "$root/$data/CommonVoice/en" --prepare_folder "$root/$prepared/common_voice" \
        --lld_folder "$root/$labels" --output_folder "$out" --number_of_epochs "$epochs" "${extra[@]}" \
        && python probe.py "$out/save/pretrained_encoder" --out "$out/probe.json" \
            --train_csv "$root/$prepared/voxceleb/iden_train.csv" --test_csv "$root/$prepared/voxceleb/iden_test.csv")
    runs+=("$out")
done
python recipes/MultitaskSSL/report.py "$report" "${runs[@]}"

echo "Multitask pretraining: results/multitask_ssl/$name/<experiment> for $experiments"
echo "(save/pretrained_encoder, probe.json); report fragment: $report/04_multitask_ssl.md"
