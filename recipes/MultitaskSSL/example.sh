#!/usr/bin/env bash
# Multitask pretraining on the embedded corpus, from a fresh clone: the alphaRatio worker, the selected workers
# and the PASE workers, each encoder probed on speaker identification against its random twin.
#
#   bash example.sh                                              # small corpus, 10 epochs, three experiments
#   bash example.sh --experiments "selected_words selected_speakers"
#   bash example.sh --experiments selected_speakers --pretrain_seeds "1986 1987 1988"
#   bash example.sh --size tiny --epochs 1 --experiments alpharatio   # a quick check
#   bash example.sh --data common_voice --epochs 15              # the Common Voice layout alone
#
# An experiment is a YAML of hparams/ (pretrain_<experiment>.yaml), or selected_<task>[_softmax|_uniform]:
# pretrain_selected.yaml with the workers of the selection made for that task, `speakers` (VoxCeleb layout: for
# speaker verification and identification) or `words` (LibriSpeech layout: for ASR), weighted by sparsemax (the
# default), softmax, or every candidate at equal weight (uniform); the selection is task-specific.
# --pretrain_seeds: one run per seed, in <experiment> for the YAML's seed (1986) and <experiment>_s<seed> else.
# --data: what the encoders are pretrained on: `pooled` (the default: every speech layout without its test
# splits, Common Voice train + LibriSpeech train-clean-100 + VoxCeleb2 dev, corpora/pooled.py, 5x the audio of
# Common Voice) or `common_voice` (runs named <experiment>_cv). Validation: Common Voice dev either way.
# Builds the corpus and manifests if missing, the pseudo-labels of that data (recipes/PseudoLabels/example.sh)
# and the selection fragments (recipes/PretextSelection/example.sh) if they are missing (delete them to
# rebuild). Training resumes from its checkpoints on a rerun.
# Outputs: results/multitask_ssl/<corpus>/<experiment>/ (save/pretrained_encoder, probe.json, logs) and
# results/report/04_multitask_ssl.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

epochs=10
experiments="alpharatio selected_speakers pase"
pretrain_seeds=1986
data=pooled  # the --data option; embedded_paths then takes the name for the corpus folder
usage="[--size tiny|small] [--seed S] [--epochs E] [--experiments \"alpharatio selected_speakers selected_words pase\"] [--pretrain_seeds \"1986 1987\"] [--data pooled|common_voice]"
. tools/embedded_paths.sh
parse_options "epochs experiments pretrain_seeds data" "$@"
data_choice=$data run_suffix=$(pretrain_data_suffix "$data")
# the YAML of an experiment, and the selection layout of a selected_<task> one
yaml_of() { case "$1" in selected_*) echo pretrain_selected ;; *) echo "pretrain_$1" ;; esac; }
layout_of() { case "$1" in selected_speakers*) echo voxceleb ;; selected_words*) echo librispeech ;; esac; }
weighting_of() { case "$1" in *_softmax) echo softmax ;; *_uniform) echo uniform ;; *) echo sparsemax ;; esac; }
# another YAML with a `selection_fragment` key (pretrain_paper.yaml) reads its own default: the word selection
wants_fragment() { grep -q '^selection_fragment:' "recipes/MultitaskSSL/hparams/$(yaml_of "$1").yaml"; }
for experiment in $experiments; do
    case "$experiment" in selected_speakers|selected_words|selected_speakers_softmax|selected_words_softmax) ;;
        selected_speakers_uniform|selected_words_uniform) ;; selected*)
        embedded_usage "--experiments $experiment (the selected workers are selected_speakers or selected_words)" ;; esac
    [ -f "recipes/MultitaskSSL/hparams/$(yaml_of "$experiment").yaml" ] \
        || embedded_usage "--experiments $experiment (no recipes/MultitaskSSL/hparams/$(yaml_of "$experiment").yaml)"
done
embedded_paths
embedded_env

labels="results/pseudo_labels/$name"
data_args=(--data_folder "$root/$data/CommonVoice/en" --prepare_folder "$root/$prepared/common_voice")
if [ "$data_choice" = pooled ]; then  # prepared by the extraction of its pseudo-labels (corpora/pooled.py)
    labels="results/pseudo_labels/${name}_pooled"
    data_args=(--prepare_folder "$root/$prepared/pooled" --skip_prep True)
fi
fragment_of() { layout=$(layout_of "$1"); echo "results/pretext_selection/${name}_${layout:-librispeech}/latest/workers_$(weighting_of "$1").yaml"; }
# failures.csv is the last file extract.py writes, so its presence means the extraction finished.
[ -f "$labels/failures.csv" ] || bash recipes/PseudoLabels/example.sh --size "$size" --seed "$seed"
for experiment in $experiments; do
    if wants_fragment "$experiment" && [ ! -f "$(fragment_of "$experiment")" ]; then
        bash recipes/PretextSelection/example.sh --size "$size" --seed "$seed"
    fi
done

runs=()
for experiment in $experiments; do
  for pretrain_seed in $pretrain_seeds; do
    out="$root/results/multitask_ssl/$name/$(pretrain_run_name "$experiment$run_suffix" "$pretrain_seed")"
    echo "== multitask pretraining ($experiment on $data_choice, seed $pretrain_seed, $epochs epochs) and speaker probe -> $out"
    # A run folder resumes its checkpoints: one made with other data or another epoch count would be reused as it
    # is (a finished 10-epoch run asked for 3 trains nothing), so it is refused.
    marker="$out/pretraining_run.txt" wanted="data=$data_choice epochs=$epochs"
    if [ -e "$out/save" ] && [ "$(cat "$marker" 2>/dev/null)" != "$wanted" ]; then
        echo "error: $out was pretrained with $(cat "$marker" 2>/dev/null || echo 'unrecorded data and epochs (an older run)'), not $wanted; delete that folder to pretrain it again, or ask for what it was made with" >&2
        exit 1
    fi
    mkdir -p "$out" && echo "$wanted" > "$marker"
    extra=()  # the selected workers: the fragment of the selection for the experiment's task
    [ -n "$(layout_of "$experiment")" ] && extra=(--selection_fragment "$root/$(fragment_of "$experiment")" \
        --experiment "$experiment")
    (cd recipes/MultitaskSSL && python train.py "hparams/$(yaml_of "$experiment").yaml" --seed "$pretrain_seed" \
        "${data_args[@]}" --lld_folder "$root/$labels" --output_folder "$out" --number_of_epochs "$epochs" "${extra[@]}" \
        --noise_rir_data_folder "$root/$data" --noise_rir_folder "$root/$prepared/noise_rir" \
        && python probe.py "$out/save/pretrained_encoder" --out "$out/probe.json" \
            --train_csv "$root/$prepared/voxceleb/iden_train.csv" --test_csv "$root/$prepared/voxceleb/iden_test.csv")
    runs+=("$out")
  done
done
python recipes/MultitaskSSL/report.py "$report" "${runs[@]}"

echo "Multitask pretraining: results/multitask_ssl/$name/<experiment> for $experiments"
echo "(save/pretrained_encoder, probe.json); report fragment: $report/04_multitask_ssl.md"
