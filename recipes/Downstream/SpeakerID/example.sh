#!/usr/bin/env bash
# Speaker identification on the embedded VoxCeleb1 identification split, from a fresh clone.
#
#   bash example.sh                                  # Fbank, small corpus
#   bash example.sh --encoder mfcc --number_of_epochs 10 --train_seed 2
#   bash example.sh --encoder pretrained:results/multitask_ssl/embedded/pase/save/pretrained_encoder
#
# Builds the corpus and manifests if missing; --size/--seed choose the corpus, --train_seed the run;
# any other --key value is passed to train.py. A rerun resumes from the checkpoints.
# Outputs: results/downstream/speaker_id/<corpus>/<encoder>/<train_seed>/ (metrics.json, train_log.txt).
set -euo pipefail
cd "$(dirname "$0")/../../.."
root="$PWD"

recipe=SpeakerID
yaml=speaker_id
. tools/embedded_paths.sh
downstream_setup "$@"
out="$root/results/downstream/speaker_id/$name/$tag/$train_seed"
cd recipes/Downstream/SpeakerID
python train.py "hparams/$yaml.yaml" --encoder "$encoder" --seed "$train_seed" \
    --data_folder "$root/$data/VoxCeleb/vox1" --prepare_folder "$root/$prepared/voxceleb_downstream" \
    --output_folder "$out" "${overrides[@]}"
echo "speaker ID results: $out/metrics.json"
