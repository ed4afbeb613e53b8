# Shared by the benchmarks' device scripts (gpu_figures.sh, lgl_gpu_figures.sh): source it from the repository
# root after setting `logs` (an existing folder). Each step writes <logs>/<name>.log and has a time limit
# (STEP_LIMIT seconds, default 150); `steps.txt` collects every step's status and wall time.

# step <name> <command...>: timed, limited, logged; returns the command's status
step() {
    local name="$1" start=$SECONDS status; shift
    timeout "${STEP_LIMIT:-150}" "$@" >"$logs/$name.log" 2>&1
    status=$?
    echo "$name: exit $status after $((SECONDS - start)) s" | tee -a "$logs/steps.txt"
    return $status
}

# setup <name> <command...>: a step whose failure ends the script (nothing after it could run)
setup() { step "$@" || { echo "set-up step $1 failed: see $logs/$1.log" >&2; exit 1; }; }

# the small embedded corpus and its manifests, on every core
embedded_corpus_setup() {
    setup corpus python -m corpora.make_embedded data/embedded --size small --num_workers "$(nproc)"
    setup prepare python -m corpora.prepare_embedded data/embedded results/prepared/embedded
}
