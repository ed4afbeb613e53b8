#!/usr/bin/env bash
# The whole pipeline on the embedded corpus, ending in results/REPORT.md.
#
#   bash example.sh                          # every stage
#   bash example.sh --stage 2 --stop_stage 3 # only some stages (each one is restartable)
#   bash example.sh --size tiny              # a quick run on the tiny corpus (data/embedded_tiny_seed0)
#
# Stages 4-9 run each recipe's own example.sh (also usable alone, from a fresh clone); each one builds
# the inputs it needs if they are missing.
#
# Stages:
#   1  generate the embedded corpus (data/embedded, size small)
#   2  prepare SpeechBrain manifests for every layout (results/prepared)
#   3  describe the corpus and sanity-check it (results/report/01_corpus.md)
#   4  OpenSMILE pseudo-labels of the Common Voice, LibriSpeech and VoxCeleb layouts (recipes/PseudoLabels)
#   5  pretext-task selection for ASR (word groups) and speakers (recipes/PretextSelection)
#   6  multitask pretraining on the pooled speech layouts (no test split) with the workers selected for
#      speakers (and for words, when the downstream tasks include asr), probed on speaker identification
#      against random weights (recipes/MultitaskSSL; --experiments "alpharatio selected_speakers pase" adds
#      the one-worker and PASE encoders, about 18 more minutes with stage 7)
#   7  downstream comparison: speaker verification and speaker ID (--downstream_tasks adds asr) for Fbank,
#      MFCC, the random twin and every pretrained encoder (recipes/Downstream, small settings, seed 0)
#   8  self-supervised speaker verification with loss-gated learning: Stage 1, Stage 2 with and without the
#      gate, against MFCC statistics (recipes/LGL, --lgl_epochs for each stage, 6 by default; the recipe
#      README's figures use 10 + 10)
#   9  VQ pooling: every pooling on five tasks without training (1-NN), for the speaker-selected encoder, its
#      random twin and Fbank (recipes/VQPooling; its own example.sh adds the supervised benchmark)
#  10  assemble results/REPORT.md
set -euo pipefail
cd "$(dirname "$0")"

stage=1
stop_stage=100
epochs=3  # of pretraining on the pooled layouts: as many steps as 15 epochs of Common Voice alone (5x fewer utterances)
settings=""
# The defaults keep the run under 45 minutes on 2 cores: one selected encoder (stage 6) and 6 + 6 LGL epochs
experiments=""  # empty: selected_speakers, and selected_words too when the downstream tasks include asr
lgl_epochs=6
# ASR on every encoder would take the whole run past 45 minutes on 2 cores: it is one option away
downstream_tasks="verification speaker_id"
usage="[--stage N] [--stop_stage M] [--size tiny|small] [--seed S] [--epochs E] [--settings small|debug|full] [--downstream_tasks \"asr verification speaker_id\"] [--experiments \"alpharatio selected_speakers pase\"] [--lgl_epochs N]"
. tools/embedded_paths.sh
parse_options "stage stop_stage epochs settings downstream_tasks experiments lgl_epochs" "$@"
downstream=()
if [ -n "$settings" ]; then downstream=(--settings "$settings"); fi
embedded_paths  # name, data, prepared, report
corpus=(--size "$size" --seed "$seed")

. tools/ensure_venv.sh
# Each stage's wall time goes into the report (stages of this invocation only: a rerun replaces the table).
mkdir -p "$report"
wall_rows="$report/.wall_time_rows"
: > "$wall_rows"
current=""
started=$SECONDS
stage_names=("" "embedded corpus" manifests "corpus report" pseudo-labels "pretext-task selection"
             "multitask pretraining" "downstream comparison" "loss-gated learning" "VQ pooling" report)
finish_stage() {
    [ -n "$current" ] && echo "| $current ${stage_names[$current]} | $(( (SECONDS - started) / 60 )) min" \
        "$(( (SECONDS - started) % 60 )) s |" >> "$wall_rows"
    current=""
}
run() {
    [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ] || return 1
    finish_stage
    current="$1"
    started=$SECONDS
}

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
    echo "== stage 4: pseudo-labels -> results/pseudo_labels/${name}*"
    bash recipes/PseudoLabels/example.sh "${corpus[@]}"
fi
if run 5; then
    echo "== stage 5: pretext-task selection -> results/pretext_selection/${name}_*"
    bash recipes/PretextSelection/example.sh "${corpus[@]}"
fi
if run 6; then
    echo "== stage 6: multitask pretraining -> results/multitask_ssl/$name"
    # the selection is task-specific: the speaker selection for speaker tasks, the word selection for ASR
    if [ -z "$experiments" ]; then
        experiments="selected_speakers"
        case " $downstream_tasks " in *" asr "*) experiments="selected_speakers selected_words" ;; esac
    fi
    bash recipes/MultitaskSSL/example.sh "${corpus[@]}" --epochs "$epochs" --experiments "$experiments"
fi
if run 7; then
    echo "== stage 7: downstream comparison -> results/downstream/$name/compare"
    bash recipes/Downstream/example.sh "${corpus[@]}" "${downstream[@]}" --tasks "$downstream_tasks"
fi
if run 8; then
    echo "== stage 8: loss-gated learning -> results/lgl/$name"
    bash recipes/LGL/example.sh "${corpus[@]}" --stage1_epochs "$lgl_epochs" --stage2_epochs "$lgl_epochs"
fi
if run 9; then
    echo "== stage 9: VQ pooling -> results/vq_pooling/$name"
    bash recipes/VQPooling/example.sh "${corpus[@]}" --benchmarks unsupervised
fi
if run 10; then
    echo "== stage 10: report"
    finish_stage
    {
        echo "## Wall time of the stages of the last \`bash example.sh\`"
        echo
        echo "Machine: $(nproc) CPU cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(python -c 'import torch; print("torch", torch.__version__, "CUDA" if torch.cuda.is_available() else "CPU only")')."
        echo
        echo "| stage | wall time |"
        echo "|---|---:|"
        cat "$wall_rows"
    } > "$report/99_wall_time.md"
    python tools/make_report.py "$report" results/REPORT.md
fi
