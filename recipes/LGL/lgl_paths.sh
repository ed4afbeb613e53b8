# Shared by the LGL example scripts (recipes/LGL/example.sh, Stage1/example.sh, Stage2/example.sh): where the runs
# of a corpus go and the data arguments both stages take. Source it from the repository root after
# embedded_paths (tools/embedded_paths.sh); sets out, data_args, small (the size's and the validation list's
# arguments) and clusters, and defines require_stage1_validation. The caller's train_data (--train_data) chooses
# the unlabelled training set: vox2 (the default, VoxCeleb2 dev as in the paper) or pooled (every speech layout's
# training split, corpora/pooled.py: 1.87 h and 120 speakers against 0.32 h and 40 on the embedded corpus), whose
# runs go to results/lgl/<corpus>_pooled.

: "${train_data:=vox2}"  # the root example.sh does not set it (a default inside $(...) would not outlive it)
out="$root/results/lgl/$name$(lgl_train_suffix "$train_data")"
data_args=(--data_folder "$root/$data/VoxCeleb/vox1" --vox2_folder "$root/$data/VoxCeleb/vox2/dev/wav"
           --noise_rir_data_folder "$root/$data" --prepare_folder "$out/prepared")
small=()
[ "$size" = tiny ] && small=(--batch_size 8 --val_dev_speakers 4) && : "${val_dev_utterances:=2}"  # 16 training utterances, 8 dev speakers
# the caller's --val_dev_utterances N, if it has one (the YAML's 4 otherwise): utterances per dev speaker in validation
[ -n "${val_dev_utterances:-}" ] && small+=(--val_dev_utterances "$val_dev_utterances")
# as many clusters as the training set has speakers (the paper: 6000 for VoxCeleb2's 5994), a known count
clusters=$(find "$data/VoxCeleb/vox2/dev/wav" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
if [ "$train_data" = pooled ]; then
    pool=$(python -m corpora.pooled "$root/$prepared")
    data_args+=(--train_csv "$pool")
    clusters=$(python -c 'import sys; from corpora.manifest import read_csv
print(len({r["spk_id"] for r in read_csv(sys.argv[1])}))' "$pool")
fi

# Stage 1 chooses its model on the validation list, so a Stage-1 run (finished or not) made with another
# val_dev_utterances than this one's (the caller's, else the YAML's) must not be resumed or reused: status 2.
require_stage1_validation() {
    local wanted trained
    [ -f "$out/stage1/hyperparams.yaml" ] || return 0
    wanted=${val_dev_utterances:-$(sed -n 's/^val_dev_utterances: *//p' "$root/recipes/LGL/Stage1/hparams/contrastive.yaml")}
    trained=$(sed -n 's/^val_dev_utterances: *//p' "$out/stage1/hyperparams.yaml")
    if [ -z "$trained" ]; then
        echo "$0: $out/stage1/hyperparams.yaml names no val_dev_utterances (a run older than that option):" \
             "delete $out to train Stage 1 again" >&2
        exit 2
    fi
    if [ "$trained" != "$wanted" ]; then
        echo "$0: $out/stage1 was validated on $trained utterances per dev speaker, this run on $wanted:" \
             "delete $out, or give --val_dev_utterances $trained" >&2
        exit 2
    fi
}
