# Shared by the LGL example scripts (recipes/LGL/example.sh, Stage1/example.sh, Stage2/example.sh): where the runs
# of a corpus go and the data arguments both stages take. Source it from the repository root after
# embedded_paths (tools/embedded_paths.sh); sets out, data_args, small and clusters.

out="$root/results/lgl/$name"
data_args=(--data_folder "$root/$data/VoxCeleb/vox1" --vox2_folder "$root/$data/VoxCeleb/vox2/dev/wav"
           --noise_rir_data_folder "$root/$data" --prepare_folder "$out/prepared")
small=()
[ "$size" = tiny ] && small=(--batch_size 8 --val_dev_speakers 4 --val_dev_utterances 2)  # 16 training utterances, 8 dev speakers
# as many clusters as the training set has speakers (the paper: 6000 for VoxCeleb2's 5994), a known count
clusters=$(find "$data/VoxCeleb/vox2/dev/wav" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
