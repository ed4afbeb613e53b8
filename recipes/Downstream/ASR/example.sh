#!/usr/bin/env bash
# Downstream ASR (CTC, SentencePiece units) on the embedded LibriSpeech layout, from a fresh clone.
#
#   bash example.sh                                  # Fbank, small corpus, the YAML's 15 epochs
#   bash example.sh --encoder mfcc --number_of_epochs 6
#   bash example.sh --encoder pretrained:results/multitask_ssl/embedded/pase/save/pretrained_encoder
#
# Builds the corpus and manifests if missing; the recipe prepares its own LibriSpeech manifests and
# tokenizer (results/downstream/asr/<corpus>/prepared, reused by later runs). Any other --key value
# is passed to train.py. A rerun resumes from the checkpoints.
# Outputs: results/downstream/asr/<corpus>/<encoder>/<seed>/ (metrics.json, wer_test.txt, train_log.txt).
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
tag=$(python -c 'import sys; sys.path.insert(0, "recipes/Downstream"); from compare import parse_encoder; print(parse_encoder(sys.argv[1])[0])' "$encoder")
out="$root/results/downstream/asr/$name/$tag/$seed"
cd recipes/Downstream/ASR
python train.py hparams/ctc.yaml --encoder "$encoder" --seed "$seed" \
    --data_folder "$root/$data/LibriSpeech" --prepare_folder "$root/results/downstream/asr/$name/prepared" \
    --output_folder "$out" "${extra[@]}"
echo "ASR results: $out/metrics.json, per-utterance alignments: $out/wer_test.txt"
