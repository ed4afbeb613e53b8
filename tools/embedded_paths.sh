# Shared by the example.sh scripts (root and recipes): the --size/--seed options, the
# corpus and result paths they map to, the venv and the corpus itself. Source it from
# the repository root:
#
#     epochs=15                                             # each option's default
#     usage="[--size tiny|small] [--seed S] [--epochs E]"   # shown on --help and on a bad option
#     . tools/embedded_paths.sh
#     parse_options "epochs" "$@"   # --size, --seed, --help and `--epochs E` (sets epochs)
#     embedded_paths    # sets name, data, prepared, report
#     embedded_env      # venv, corpus and manifests (each skips itself when up to date)
#
# Every script derives its paths here, so the root pipeline and the recipes read and
# write the same folders.

size=small
seed=0

# Prints the usage line (and the bad option, if any) and exits: 0 for --help, 2 otherwise.
embedded_usage() {
    case "$1" in
        -h|--help) echo "usage: bash $0 $usage"; exit 0 ;;
    esac
    echo "$0: unknown option or missing value: $1" >&2
    echo "usage: bash $0 $usage" >&2
    exit 2
}

# The value after an option (`option_value "$@"` with the option in $1); a usage error if it is missing.
option_value() {
    if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#--}" != "$2" ]; then
        embedded_usage "$1"
    fi
    echo "$2"
}

# Handles --size and --seed (status 0, the caller shifts 2) and --help (prints the usage and exits);
# status 1 for any other option.
embedded_option() {
    case "$1" in
        -h|--help) embedded_usage "$1" ;;
        --size) size="$(option_value "$@")" || exit 2 ;;
        --seed) seed="$(option_value "$@")" || exit 2 ;;
        *) return 1 ;;
    esac
}

# A script's options: --size, --seed and --help (embedded_option), and `--<name> VALUE` for every name in
# the list $1, which sets the variable of that name (its default is the caller's). Anything else, or an
# option without its value, prints the usage line (the known options) and exits with status 2.
parse_options() {
    local _names="$1" _name _option _value
    shift
    while [ $# -gt 0 ]; do
        embedded_option "$@" && shift 2 && continue
        _option=""
        for _name in $_names; do
            if [ "$1" = "--$_name" ]; then _option="$_name"; fi
        done
        if [ -z "$_option" ]; then embedded_usage "$1"; fi
        _value="$(option_value "$@")" || exit 2
        printf -v "$_option" '%s' "$_value"
        shift 2
    done
}

# The default corpus (small, seed 0) is data/embedded; any other is data/embedded_<size>_seed<seed>,
# so a quick tiny run never touches the default corpus or its results. Report fragments always go
# to results/report, which tools/make_report.py assembles into results/REPORT.md.
embedded_paths() {
    if [ "$size" = small ] && [ "$seed" = 0 ]; then
        name=embedded
    else
        name="embedded_${size}_seed${seed}"
    fi
    data="data/$name"
    prepared="results/prepared/$name"
    report=results/report
}

# Activates the venv (creating it on a fresh clone) and builds the corpus and its manifests if missing.
embedded_env() {
    . tools/ensure_venv.sh || exit 1
    echo "== embedded corpus -> $data, manifests -> $prepared (skipped when up to date)"
    python -m corpora.make_embedded "$data" --size "$size" --seed "$seed"
    python -m corpora.prepare_embedded "$data" "$prepared"
}

# The start of an example.sh whose only options are --size and --seed: parses them, sets the corpus
# paths and builds the venv, corpus and manifests.
embedded_setup() {
    usage="[--size tiny|small] [--seed S]"
    parse_options "" "$@"
    embedded_paths
    embedded_env
}

# Downstream recipes: makes an encoder folder given relative to the repository root absolute (the recipe
# runs from its own folder) and sets `tag`, the run's short name as recipes/Downstream/compare.py names it
# (fbank, mfcc, pretrained_pase, random_alpharatio, ...). Needs the venv and `root`.
downstream_encoder() {
    case "$encoder" in
        *:/*|fbank|mfcc) ;;
        *:*) encoder="${encoder%%:*}:$root/${encoder#*:}" ;;
    esac
    tag=$(python -c 'import sys; sys.path.insert(0, "recipes/Downstream")
from compare import parse_encoder; print(parse_encoder(sys.argv[1])[0])' "$encoder")
}

# Downstream recipes: a `--key value` (or a lone `--flag`) override for train.py, appended to `overrides`;
# sets `taken` to the number of arguments it used (the caller shifts them).
downstream_override() {
    if [ $# -ge 2 ] && [ "${2#--}" = "$2" ]; then overrides+=("$1" "$2"); taken=2; else overrides+=("$1"); taken=1; fi
}

# The start of every downstream recipe's example.sh: parses [--size] [--seed] [--yaml NAME] [--encoder SPEC]
# [--train_seed N] and any `--key value` override for train.py (into `overrides`), then sets the corpus
# paths, builds the venv, corpus and manifests, and resolves the encoder (`encoder`, `tag`). The caller sets
# `root`, `recipe` (its folder under recipes/Downstream) and `yaml` (its default YAML, without .yaml).
downstream_setup() {
    encoder=fbank
    train_seed=1986
    overrides=()
    usage="[--size tiny|small] [--seed S] [--yaml NAME] [--encoder SPEC] [--train_seed N] [--<hparam> [VALUE] ...]"
    while [ $# -gt 0 ]; do
        embedded_option "$@" && shift 2 && continue
        case "$1" in
            -h|--help) embedded_usage "$1" ;;
            --yaml) yaml="$(option_value "$@")"; shift 2 ;;
            --encoder) encoder="$(option_value "$@")"; shift 2 ;;
            --train_seed) train_seed="$(option_value "$@")"; shift 2 ;;
            --*) downstream_override "$@"; shift "$taken" ;;
            *) embedded_usage "$1" ;;
        esac
    done
    [ -f "recipes/Downstream/$recipe/hparams/$yaml.yaml" ] \
        || embedded_usage "--yaml $yaml (no recipes/Downstream/$recipe/hparams/$yaml.yaml)"
    embedded_paths
    embedded_env
    downstream_encoder
}

# The run-name suffix of the pretraining data (recipes/MultitaskSSL/example.sh --data): none for the pooled layouts,
# `_cv` for Common Voice alone; any other value stops with the usage line.
pretrain_data_suffix() {
    case "$1" in pooled) ;; common_voice) echo _cv ;; *) embedded_usage "--data $1 (pooled or common_voice)" ;; esac
}

# The results-folder suffix of an LGL training set (recipes/LGL/lgl_paths.sh, --train_data): none for VoxCeleb2 dev,
# _pooled for every speech layout's training split. Called right after parse_options, so a bad value stops a
# script before any set-up.
lgl_train_suffix() {
    case "$1" in vox2) ;; pooled) echo _pooled ;; *) embedded_usage "--train_data $1 (vox2 or pooled)" ;; esac
}

# The folder name of one pretraining run: the experiment for the YAMLs' own seed (1986), <experiment>_s<seed>
# for another (recipes/MultitaskSSL/example.sh --pretrain_seeds).
pretrain_run_name() {
    if [ "$2" = 1986 ]; then echo "$1"; else echo "$1_s$2"; fi
}

# The compare.py encoder specs of pretrained encoder folders (<run>/save/pretrained_encoder, under $root):
# `pretrained_specs` (<run>=pretrained:<folder>), `twin_specs` (one random twin per architecture, the encoder
# class in the folder's hyperparams.yaml) and `encoder_specs`, both in order, each twin before the first encoder
# of its architecture.
encoder_specs() {
    pretrained_specs=() twin_specs=() encoder_specs=()
    local folder run architecture twins=" "
    for folder in "$@"; do
        run=$(basename "$(dirname "$(dirname "$folder")")")
        architecture=$(sed -n 's/^encoder: !new:lobes\.encoders\.//p' "$folder/hyperparams.yaml")
        case "$twins" in *" $architecture "*) ;; *)
            twins+="$architecture "
            twin_specs+=("random_$architecture=random:$root/$folder")
            encoder_specs+=("random_$architecture=random:$root/$folder") ;;
        esac
        pretrained_specs+=("$run=pretrained:$root/$folder")
        encoder_specs+=("$run=pretrained:$root/$folder")
    done
}
