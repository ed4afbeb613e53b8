#!/usr/bin/env bash
# VQ pooling on the embedded corpus, from a fresh clone: frames and codes of our pretrained encoder (the speaker
# selection of recipes/MultitaskSSL), of its random twin and of Fbank; both benchmarks of Park et al. (2023) for
# every pooling and task (unsupervised 1-NN, supervised linear head); a table per upstream and a heat map.
#
#   bash example.sh                                         # small corpus, both benchmarks
#   bash example.sh --benchmarks unsupervised               # no training: about a minute after extraction
#   bash example.sh --size tiny --epochs 2                  # a quick check
#   bash example.sh --wav2vec2_folder /models/wav2vec2-base # adds a local wav2vec 2.0 pretraining checkpoint
#
# Builds the corpus and manifests if missing, and the pretrained encoder (recipes/MultitaskSSL/example.sh
# --experiments selected_speakers) if it is missing. Extraction resumes, finished benchmark runs are reused.
# Outputs: results/vq_pooling/<corpus>/ and results/report/09_vq_pooling.md (and .png).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

benchmarks="unsupervised supervised"
epochs=""
wav2vec2_folder=""
usage="[--size tiny|small] [--seed S] [--benchmarks \"unsupervised supervised\"] [--epochs N] [--wav2vec2_folder DIR]"
. tools/embedded_paths.sh
parse_options "benchmarks epochs wav2vec2_folder" "$@"
if [ -n "$wav2vec2_folder" ]; then wav2vec2_folder="$(cd "$wav2vec2_folder" && pwd)"; fi
embedded_paths
embedded_env

encoder="results/multitask_ssl/$name/selected_speakers/save/pretrained_encoder"
[ -f "$encoder/encoder.ckpt" ] \
    || bash recipes/MultitaskSSL/example.sh --size "$size" --seed "$seed" --experiments selected_speakers
common=(--results_root "$root/results" --corpus "$name")
features="encoder random_encoder fbank"
cd recipes/VQPooling
echo "== frames and codes -> results/vq_pooling/$name/features/{${features// /,}}"
python extract.py hparams/extract_encoder.yaml "${common[@]}"
python extract.py hparams/extract_encoder.yaml "${common[@]}" --name random_encoder --upstream "random:$root/$encoder"
python extract.py hparams/extract_fbank.yaml "${common[@]}"
if [ -n "$wav2vec2_folder" ]; then
    python extract.py hparams/extract_wav2vec2.yaml "${common[@]}" --wav2vec2_folder "$wav2vec2_folder"
    features+=" wav2vec2"
fi
echo "== benchmarks ($benchmarks) -> results/vq_pooling/$name/<features>/benchmark.json"
# shellcheck disable=SC2086  # word lists
python benchmark.py --features $features --benchmarks $benchmarks ${epochs:+--number_of_epochs "$epochs"} \
    "${common[@]}"
# shellcheck disable=SC2086
python report.py --features $features "${common[@]}" --report "$root/$report" > /dev/null
echo "tables and heat map: $report/09_vq_pooling.md"
