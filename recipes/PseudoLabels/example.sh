#!/usr/bin/env bash
# OpenSMILE pseudo-labels of the embedded Common Voice, LibriSpeech and VoxCeleb layouts, and of the pooled
# pretraining corpus (all three without their test splits), from a fresh clone.
#
#   bash example.sh                    # small corpus (data/embedded)
#   bash example.sh --size tiny        # tiny corpus, about a minute
#
# Builds the corpus and its manifests if missing, extracts the LLDs of the three layouts and their pool (a rerun skips
# finished utterances) and writes the report fragment results/report/02_pseudo_labels.md.
# Outputs: results/pseudo_labels/<corpus> (Common Voice, read by recipes/MultitaskSSL) and
# results/pseudo_labels/<corpus>_{librispeech,voxceleb} (read by recipes/PretextSelection) and
# results/pseudo_labels/<corpus>_pooled (Common Voice train, LibriSpeech train-clean-100 and VoxCeleb2 dev:
# the default pretraining data of recipes/MultitaskSSL).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

. tools/embedded_paths.sh
embedded_setup "$@"

labels="$root/results/pseudo_labels/$name"
echo "== pseudo-labels of Common Voice -> $labels"
cd recipes/PseudoLabels
python extract.py hparams/extract.yaml \
    --data_folder "$root/$data/CommonVoice/en" --prepare_folder "$root/$prepared/common_voice" \
    --output_folder "$labels" --num_workers "$(nproc)"
python report.py "$labels" "$root/$report"
for corpus in librispeech:LibriSpeech voxceleb:VoxCeleb/vox1; do
    layout=${corpus%%:*}
    echo "== pseudo-labels of $layout -> ${labels}_$layout"
    python extract.py "hparams/extract_$layout.yaml" \
        --data_folder "$root/$data/${corpus#*:}" --prepare_folder "$root/$prepared/$layout" \
        --output_folder "${labels}_$layout" --num_workers "$(nproc)"
done
# after the VoxCeleb preparation above, which writes the VoxCeleb2 dev manifest that the pool reads
echo "== pseudo-labels of the pooled pretraining corpus -> ${labels}_pooled"
python extract.py hparams/extract_pooled.yaml --prepared_root "$root/$prepared" \
    --output_folder "${labels}_pooled" --num_workers "$(nproc)"

echo "Pseudo-labels: results/pseudo_labels/$name (Common Voice), results/pseudo_labels/${name}_librispeech,"
echo "results/pseudo_labels/${name}_voxceleb, results/pseudo_labels/${name}_pooled; report fragment: $report/02_pseudo_labels.md"
