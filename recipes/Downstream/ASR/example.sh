#!/usr/bin/env bash
# Downstream ASR (CTC, SentencePiece units) on the embedded LibriSpeech layout, from a fresh clone.
#
#   bash example.sh                                  # Fbank, small corpus, the YAML's 15 epochs
#   bash example.sh --encoder mfcc --number_of_epochs 6
#   bash example.sh --encoder pretrained:results/multitask_ssl/embedded/pase/save/pretrained_encoder
#
# Builds the corpus and manifests if missing; the recipe prepares its own LibriSpeech manifests and
# tokenizer (results/downstream/asr/<corpus>/prepared, reused by later runs). --size/--seed choose the
# corpus, --train_seed the run; any other --key value is passed to train.py. A rerun resumes from the
# checkpoints.
# Outputs: results/downstream/asr/<corpus>/<encoder>/<train_seed>/ (metrics.json, wer_test.txt, train_log.txt).
set -euo pipefail
cd "$(dirname "$0")/../../.."
root="$PWD"

recipe=ASR
yaml=ctc
. tools/embedded_paths.sh
downstream_setup "$@"
out="$root/results/downstream/asr/$name/$tag/$train_seed"
cd recipes/Downstream/ASR
python train.py "hparams/$yaml.yaml" --encoder "$encoder" --seed "$train_seed" \
    --data_folder "$root/$data/LibriSpeech" --prepare_folder "$root/results/downstream/asr/$name/prepared" \
    --output_folder "$out" "${overrides[@]}"
echo "ASR results: $out/metrics.json, per-utterance alignments: $out/wer_test.txt"
