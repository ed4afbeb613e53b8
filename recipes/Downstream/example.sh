#!/usr/bin/env bash
# The downstream comparison on the embedded corpus, from a fresh clone: ASR, speaker verification and
# speaker identification for Fbank, MFCC, every encoder pretrained by recipes/MultitaskSSL and the random
# twin of each pretrained architecture, in one table.
#
#   bash example.sh                                   # small corpus, small settings, seed 0
#   bash example.sh --seeds "0 1 2" --tasks "verification speaker_id"
#   bash example.sh --size tiny --settings debug      # a quick check
#
# Recipes run --jobs at a time (default: one per core, each on one thread).
#
# Runs recipes/MultitaskSSL/example.sh first if no pretrained encoder exists for the corpus. Finished runs
# are reused (delete their folder to redo them).
# Outputs: results/downstream/<corpus>/compare/ (compare.md, compare.png, one folder per run) and
# results/report/07_downstream.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

settings=small
seeds=0
tasks="asr verification speaker_id"
jobs=$(nproc)
usage="[--size tiny|small] [--seed S] [--settings small|debug|full] [--seeds \"0 1 2\"] [--tasks \"asr verification speaker_id\"] [--jobs N]"
. tools/embedded_paths.sh
parse_options "settings seeds tasks jobs" "$@"
embedded_paths
embedded_env

pretrained=(results/multitask_ssl/"$name"/*/save/pretrained_encoder)
[ -e "${pretrained[0]}" ] || { bash recipes/MultitaskSSL/example.sh --size "$size" --seed "$seed"; \
    pretrained=(results/multitask_ssl/"$name"/*/save/pretrained_encoder); }
encoder_specs "${pretrained[@]}"  # each pretrained encoder, and one random twin per architecture
encoders=(fbank mfcc "${encoder_specs[@]}")
out="$root/results/downstream/$name/compare"
# shellcheck disable=SC2086
python recipes/Downstream/compare.py --encoders "${encoders[@]}" --tasks $tasks --seeds $seeds \
    --settings "$settings" --jobs "$jobs" --data "$root/$data" --prepared "$root/$prepared" --out "$out" \
    --report "$root/$report"
echo "comparison: $out/compare.md (chart: $out/compare.png)"
