#!/usr/bin/env bash
# The whole pipeline on the embedded corpus, ending in results/REPORT.md.
#
#   bash example.sh                          # every stage
#   bash example.sh --stage 2 --stop_stage 3 # only some stages (each one is restartable)
#
# Stages:
#   1  generate the embedded corpus (data/embedded, size small)
#   2  prepare SpeechBrain manifests for every layout (results/prepared)
#   3  describe the corpus and sanity-check it (results/report/01_corpus.md)
#   4  OpenSMILE pseudo-labels of the Common Voice, LibriSpeech and VoxCeleb layouts (recipes/PseudoLabels)
#   5  pretext-task selection for ASR (word groups) and speakers (recipes/PretextSelection)
#   6  multitask pretraining on the Common Voice layout: alphaRatio worker, selected workers, PASE workers,
#      each probed on speaker identification against random weights (recipes/MultitaskSSL)
#   9  assemble results/REPORT.md
set -euo pipefail
cd "$(dirname "$0")"

stage=1
stop_stage=100
size=small
seed=0
epochs=15
data=data/embedded
while [ $# -gt 0 ]; do
    case "$1" in
        --stage) stage="$2"; shift 2 ;;
        --stop_stage) stop_stage="$2"; shift 2 ;;
        --size) size="$2"; data="data/embedded_$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --epochs) epochs="$2"; shift 2 ;;
        *) echo "unknown option $1 (expected --stage N, --stop_stage M, --size tiny|small, --seed S, --epochs E)" >&2; exit 2 ;;
    esac
done
[ "$size" = small ] && [ "$seed" = 0 ] || data="data/embedded_${size}_seed${seed}"
prepared="results/prepared/$(basename "$data")"
report=results/report

. tools/ensure_venv.sh
run() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

if run 1; then
    echo "== stage 1: embedded corpus -> $data"
    python -m corpora.make_embedded "$data" --size "$size" --seed "$seed"
fi
if run 2; then
    echo "== stage 2: manifests -> $prepared"
    python -m corpora.prepare_embedded "$data" "$prepared"
fi
if run 3; then
    echo "== stage 3: corpus description and sanity check -> $report/01_corpus.md"
    python -m corpora.describe "$data" "$prepared" "$report"
fi
if run 4; then
    echo "== stage 4: pseudo-labels -> results/pseudo_labels/$(basename "$data")"
    labels="$PWD/results/pseudo_labels/$(basename "$data")"
    (cd recipes/PseudoLabels && python extract.py hparams/extract.yaml \
        --data_folder "$OLDPWD/$data/CommonVoice/en" --prepare_folder "$OLDPWD/$prepared/common_voice" \
        --output_folder "$labels" --num_workers "$(nproc)" \
        && python report.py "$labels" "$OLDPWD/$report")
    for corpus in librispeech:LibriSpeech voxceleb:VoxCeleb/vox1; do
        name=${corpus%%:*}
        (cd recipes/PseudoLabels && python extract.py "hparams/extract_$name.yaml" \
            --data_folder "$OLDPWD/$data/${corpus#*:}" --prepare_folder "$OLDPWD/$prepared/$name" \
            --output_folder "$OLDPWD/results/pseudo_labels/$(basename "$data")_$name" --num_workers "$(nproc)")
    done
fi
if run 5; then
    echo "== stage 5: pretext-task selection -> results/pretext_selection/$(basename "$data")_*"
    runs=()
    for corpus in librispeech:LibriSpeech voxceleb:VoxCeleb/vox1; do
        name=${corpus%%:*}
        out="$PWD/results/pretext_selection/$(basename "$data")_$name"
        groups=()  # the tiny corpus has few repeated words and utterances per speaker
        [ "$size" = tiny ] && groups=(--min_occurrences "$([ "$name" = librispeech ] && echo 5 || echo 4)")
        (cd recipes/PretextSelection && python select.py "hparams/select_$name.yaml" "${groups[@]}" \
            --data_folder "$OLDPWD/$data/${corpus#*:}" --prepare_folder "$OLDPWD/$prepared/$name" \
            --lld_folder "$OLDPWD/results/pseudo_labels/$(basename "$data")_$name" --output_folder "$out")
        runs+=("$out/latest")
    done
    python recipes/PretextSelection/report.py "$report" "${runs[@]}"
fi
if run 6; then
    echo "== stage 6: multitask pretraining -> results/multitask_ssl/$(basename "$data")"
    runs=()
    for experiment in alpharatio selected pase; do
        out="$PWD/results/multitask_ssl/$(basename "$data")/$experiment"
        extra=()  # the selected workers: the sparsemax fragment of the ASR selection (stage 5)
        [ "$experiment" = selected ] && extra=(--selection_fragment \
            "$PWD/results/pretext_selection/$(basename "$data")_librispeech/latest/workers_sparsemax.yaml")
        (cd recipes/MultitaskSSL && python train.py "hparams/pretrain_$experiment.yaml" \
            --data_folder "$OLDPWD/$data/CommonVoice/en" --prepare_folder "$OLDPWD/$prepared/common_voice" \
            --lld_folder "$OLDPWD/results/pseudo_labels/$(basename "$data")" --output_folder "$out" \
            --number_of_epochs "$epochs" "${extra[@]}" \
            && python probe.py "$out/save/pretrained_encoder" --out "$out/probe.json" \
                --train_csv "$OLDPWD/$prepared/voxceleb/iden_train.csv" --test_csv "$OLDPWD/$prepared/voxceleb/iden_test.csv")
        runs+=("$out")
    done
    python recipes/MultitaskSSL/report.py "$report" "${runs[@]}"
fi
if run 9; then
    echo "== stage 9: report"
    python tools/make_report.py "$report" results/REPORT.md
fi
