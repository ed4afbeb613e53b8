#!/usr/bin/env bash
# Pretext-task selection on the embedded corpus, from a fresh clone: ASR (LibriSpeech layout, one group per
# word) and speakers (VoxCeleb layout, one group per speaker).
#
#   bash example.sh                    # small corpus (data/embedded)
#   bash example.sh --size tiny        # tiny corpus, a minute or two
#
# Builds the corpus and manifests if missing, and the LibriSpeech and VoxCeleb pseudo-labels with
# recipes/PseudoLabels/example.sh if they are missing (delete them to rebuild). Each run of select_tasks.py
# resumes its matrix cache and writes a new dated folder (and `latest`).
# Outputs: results/pretext_selection/<corpus>_{librispeech,voxceleb}/latest (ranking, weights, the
# workers_*.yaml fragments read by recipes/MultitaskSSL) and results/report/03_pretext_selection.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

. tools/embedded_paths.sh
embedded_setup "$@"

# failures.csv is the last file extract.py writes, so its presence means the extraction finished.
for layout in librispeech voxceleb; do
    if [ ! -f "results/pseudo_labels/${name}_$layout/failures.csv" ]; then
        bash recipes/PseudoLabels/example.sh --size "$size" --seed "$seed"
        break
    fi
done

runs=()
for corpus in librispeech:LibriSpeech voxceleb:VoxCeleb/vox1; do
    layout=${corpus%%:*}
    out="$root/results/pretext_selection/${name}_$layout"
    echo "== pretext-task selection ($layout) -> $out"
    groups=()  # the tiny corpus has few repeated words and utterances per speaker
    [ "$size" = tiny ] && groups=(--min_occurrences "$([ "$layout" = librispeech ] && echo 5 || echo 4)")
    (cd recipes/PretextSelection && python select_tasks.py "hparams/select_$layout.yaml" "${groups[@]}" \
        --data_folder "$root/$data/${corpus#*:}" --prepare_folder "$root/$prepared/$layout" \
        --lld_folder "$root/results/pseudo_labels/${name}_$layout" --output_folder "$out")
    runs+=("$out/latest")
done
python recipes/PretextSelection/report.py "$report" "${runs[@]}"

echo "Pretext-task selection: results/pretext_selection/${name}_librispeech/latest (ASR),"
echo "results/pretext_selection/${name}_voxceleb/latest (speakers); report fragment: $report/03_pretext_selection.md"
