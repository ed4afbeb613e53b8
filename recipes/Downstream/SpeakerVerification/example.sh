#!/usr/bin/env bash
# Speaker verification on the embedded VoxCeleb layout, from a fresh clone: trains the x-vector (or ECAPA)
# on the chosen encoder's features, then scores the test trials once with cosine and PLDA.
#
#   bash example.sh                                      # Fbank x-vector, recipe defaults
#   bash example.sh --encoder mfcc --number_of_epochs 5  # any other option goes to train.py as an override
#   bash example.sh --yaml ecapa --encoder pretrained:results/multitask_ssl/embedded/selected/save/pretrained_encoder
#   bash example.sh --size tiny --number_of_epochs 1 --embedding_dim 32   # a quick check on the tiny corpus
#                                        (its 48 training utterances allow PLDA only below 48 dimensions)
#
# --size/--seed choose the embedded corpus (as in the other example.sh scripts); the training seed is
# --train_seed. Builds the corpus if it is missing; training resumes from its checkpoints on a rerun.
# Outputs: results/downstream/speaker_verification/<corpus>/<yaml>_<encoder>/<train_seed>/ (metrics.json,
# scores_test_{cosine,plda}.txt, det_test.png, train_log.txt).
set -euo pipefail
cd "$(dirname "$0")/../../.."
root="$PWD"

recipe=SpeakerVerification
yaml=xvector
. tools/embedded_paths.sh
downstream_setup "$@"
base="$root/results/downstream/speaker_verification/$name"
out="$base/${yaml}_$tag/$train_seed"
echo "== speaker verification ($yaml on $encoder) -> $out"
(cd recipes/Downstream/SpeakerVerification && python train.py "hparams/$yaml.yaml" --encoder "$encoder" \
    --seed "$train_seed" --data_folder "$root/$data/VoxCeleb/vox1" --prepare_folder "$base/prepared" \
    --output_folder "$out" "${overrides[@]}")

echo "Speaker verification: $out/metrics.json (EER, CI, minDCF for cosine and PLDA),"
echo "$out/det_test.png, scores in $out/scores_test_{cosine,plda}.txt"
