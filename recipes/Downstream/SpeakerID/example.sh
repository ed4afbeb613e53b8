#!/usr/bin/env bash
# Speaker identification on the embedded VoxCeleb1 identification split, from a fresh clone.
#
#   bash example.sh                                  # Fbank, small corpus
#   bash example.sh --encoder mfcc --number_of_epochs 10
#   bash example.sh --encoder pretrained:results/multitask_ssl/embedded/pase/save/pretrained_encoder
#
# Builds the corpus and manifests if missing; any other --key value is passed to train.py.
# Outputs: results/downstream/speaker_id/<corpus>/<encoder>/<seed>/ (metrics.json, train_log.txt).
set -euo pipefail
cd "$(dirname "$0")/../../.."
root="$PWD"

encoder=fbank
extra=()
usage="[--size tiny|small] [--seed S] [--encoder SPEC] [--<hparam> VALUE ...]"
. tools/embedded_paths.sh
while [ $# -gt 0 ]; do
    embedded_option "$@" && shift 2 && continue
    case "$1" in
        --encoder) encoder="$(option_value "$@")"; shift 2 ;;
        --*) extra+=("$1" "$(option_value "$@")"); shift 2 ;;
        *) embedded_usage "$1" ;;
    esac
done
embedded_paths
embedded_env

# encoder folders given relative to the repository root work from the recipe folder too
case "$encoder" in *:/*) ;; *:*) encoder="${encoder%%:*}:$root/${encoder#*:}" ;; esac
speakers=$(cut -d, -f4 "$prepared/voxceleb/iden_train.csv" | tail -n +2 | sort -u | wc -l)
tag=$(python -c 'import sys; sys.path.insert(0, "recipes/Downstream"); from compare import parse_encoder; print(parse_encoder(sys.argv[1])[0])' "$encoder")
out="$root/results/downstream/speaker_id/$name/$tag/$seed"
cd recipes/Downstream/SpeakerID
python train.py hparams/speaker_id.yaml --encoder "$encoder" --seed "$seed" --n_speakers "$speakers" \
    --data_folder "$root/$data/VoxCeleb/vox1" --prepare_folder "$root/$prepared/voxceleb" \
    --output_folder "$out" "${extra[@]}"
echo "speaker ID results: $out/metrics.json"
