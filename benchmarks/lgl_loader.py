#!/usr/bin/env python3
"""Stage-1 data loading of loss-gated learning, ours (recipes/LGL/Stage1) against the original's, on the same audio.

    git --git-dir=<mirror of TaoRuijie/Loss-Gated-Learning> archive HEAD -- Stage1 ':(exclude)Stage1/rir.npy' \
        | tar -x -C /tmp/lgl_original      # (the mirror lacks rir.npy's blob; git still warns about it)
    OMP_NUM_THREADS=1 python benchmarks/lgl_loader.py --original /tmp/lgl_original/Stage1
    OMP_NUM_THREADS=1 python benchmarks/lgl_loader.py --original /tmp/lgl_original/Stage1 --items 512 --repeats 3

Measured, with the same number of items, each one utterance:

- ORIGINAL: `train_loader` of Tao et al.'s Stage1/dataLoader.py (imported at run time from `--original`, never
  copied here): reads two 1.815 s segments (29040 samples) and, in the loader, convolves and adds the noise of
  three views -> `[3, 29040]`; its features (Fbank) are computed later, in the model.
- OURS: the dataset of `dataio_prepare` (recipes/LGL/Stage1/train.py, hparams/contrastive.yaml): two 1.8 s
  segments plus three augmentation draws (noise crops, impulse responses) read in the loader; the mixing is
  done later on the training device, so it is timed here too, on the CPU (`lobes.wave_augment.batch_draws` +
  `mix` for the three views, then `lobes.speaker_ssl.LogMel` on the mixed waves): "+ mix" is the fair
  counterpart of the original's loader, "+ mix + LogMel" also includes the features the original leaves to the
  model.

Each loader is timed (1) in one process, calling `__getitem__` directly (the "+ mix" rows add our collation,
DrawCollate, and the mixing of the collated batches, one `--batch_size` at a time), and (2) through a DataLoader
with `--num_workers` workers (ours: speechbrain `make_dataloader` with DrawCollate as train.py, the "+ mix" variants
mixing inside the workers' collate_fn; the original: torch DataLoader with the settings of its `get_loader`:
shuffle, drop_last, its `worker_init_fn`, prefetch_factor 5), from the creation of the iterator to the last batch
(worker start-up included); a last row times our DataLoader with no workers (its collation without
the transfer of the batches between processes). Both use `--batch_size` (the YAML's 64; the paper's 300 exceeds the embedded
corpus). The rounds alternate the loaders and are repeated `--repeats` times; the best round is reported.

Counting: one item = one utterance = two speech segments giving three augmented views, in both. "s of audio/s"
counts the speech read, two segments per item (ours 2 x 1.8 = 3.6 s, the original 2 x 1.815 = 3.63 s); the
audio of the three views each item outputs is 1.5 times that. "per process" is items/s divided by the loader
processes (1, or the workers of a DataLoader; its main process only receives the batches).

What the original needs, built from the embedded corpus in a temporary folder (removed at the end):

- the train list, `<speaker> <path relative to train_path>` per line (the VoxCeleb2 train_list.txt format;
  only the second field is read), from results/prepared/embedded/voxceleb/vox2_train.csv. Its `loadWAVSplit`
  needs at least 2 x 29040 + 2 samples (shorter utterances raise ValueError in `random.sample`; VoxCeleb2's are
  >= 4 s), so both loaders read only those utterances, cycled to `--items` (ours through a CSV of the same rows,
  with unique IDs);
- the MUSAN folder, globbed as `musan_path/*/*/*/*.wav`, the category being the 4th path part from the end
  (noise, speech, music), i.e. the `musan_split/<category>/<source>/<recording>/<chunk>.wav` layout of
  process_musan.py (voxceleb_unsupervised): the recordings of noise.csv, babble.csv (-> speech) and music.csv
  of results/prepared/embedded/noise_rir, cut as that script does into 5 s chunks every 3 s (real files, same
  sample format, since the original reads whole chunk files); a recording of 5 s or less, which that script
  would drop, is kept whole as one chunk (the embedded speech recordings are ~4 s);
- `rir.npy`, loaded from the working directory (the benchmark changes into the temporary folder): not in the
  mirror (Stage1/rir.npy is in the tree, its blob absent). Built from results/prepared/embedded/noise_rir/rir.csv:
  each impulse response cropped to 1 s and normalized to unit energy (as our NoiseDraw, and voxceleb_trainer,
  whose augmentation the original follows: its gain 10^(0.1 g), g in [-7, 3], presumes a normalized response),
  zero-padded to the longest, float32 `[N, 16000]`. Its length sets the cost of the original's convolutions.
- numpy: the original calls `.astype(numpy.float)`, removed in numpy 1.24; `numpy.float = float` is set before
  importing it (the same float64). Nothing else of its code is changed.

Caveats: the machine may be shared (another training), so compare rows of one run, not across runs; 2 workers on
2 cores compete with the main process and anything else.
"""

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
STAGE1 = os.path.join(ROOT, "recipes", "LGL", "Stage1")
PREPARED = os.path.join(ROOT, "results", "prepared", "embedded")
ORIGINAL_FRAMES = 180  # main_train.py --max_frames: 180 * 160 + 240 = 29040 samples
ORIGINAL_SAMPLES = ORIGINAL_FRAMES * 160 + 240
RATE = 16000
MUSAN = {"noise": "noise.csv", "speech": "babble.csv", "music": "music.csv"}  # original category -> our manifest


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------- data preparation
def prepare(tmp, items, train_csv, noise_rir):
    """Writes the shared item list (ours: CSV; original: train list), musan_split/ and rir.npy under `tmp`."""
    rows = [r for r in read_rows(train_csv) if sf.info(r["wav"]).frames >= 2 * ORIGINAL_SAMPLES + 2]
    if not rows:
        raise SystemExit(f"{train_csv}: no utterance of at least {(2 * ORIGINAL_SAMPLES + 2) / RATE:.2f} s")
    chosen = [rows[i % len(rows)] for i in range(items)]
    root = os.path.commonpath([os.path.dirname(r["wav"]) for r in rows])
    bench_csv, train_list = os.path.join(tmp, "bench.csv"), os.path.join(tmp, "train_list.txt")
    with open(bench_csv, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ID", "duration", "wav", "spk_id"])
        for i, r in enumerate(chosen):
            writer.writerow([f"{r['ID']}--rep{i // len(rows)}", r["duration"], r["wav"], r["spk_id"]])
    with open(train_list, "w") as f:
        for r in chosen:
            f.write(f"{r['spk_id']} {os.path.relpath(r['wav'], root)}\n")

    musan = os.path.join(tmp, "musan_split")
    chunks = {}
    for category, name in MUSAN.items():
        for r in read_rows(os.path.join(noise_rir, name)):
            info = sf.info(r["wav"])
            audio, rate = sf.read(r["wav"], dtype="int16" if info.subtype == "PCM_16" else "float32")
            folder = os.path.join(musan, category, os.path.basename(os.path.dirname(r["wav"])),
                                  os.path.splitext(os.path.basename(r["wav"]))[0])
            os.makedirs(folder)
            length, hop = 5 * rate, 3 * rate
            starts = list(range(0, len(audio) - length, hop)) or [0]  # process_musan.py; short ones kept whole
            for start in starts:
                sf.write(os.path.join(folder, "%05d.wav" % (start / rate)), audio[start:start + length], rate,
                         subtype=info.subtype)
            chunks[category] = chunks.get(category, 0) + len(starts)

    rirs = []
    for r in read_rows(os.path.join(noise_rir, "rir.csv")):
        rir, rate = sf.read(r["wav"], dtype="float64", always_2d=True)
        if rate != RATE:
            raise SystemExit(f"{r['wav']}: {rate} Hz, expected {RATE}")
        rir = rir.mean(1)[:RATE]
        rirs.append(rir / np.sqrt((rir ** 2).sum()))
    rir_array = np.zeros((len(rirs), max(len(r) for r in rirs)), np.float32)
    for i, rir in enumerate(rirs):
        rir_array[i, :len(rir)] = rir
    np.save(os.path.join(tmp, "rir.npy"), rir_array)
    return {"bench_csv": bench_csv, "train_list": train_list, "train_path": root, "musan": musan,
            "utterances": len(rows), "chunks": chunks, "rir_shape": rir_array.shape}


# ------------------------------------------------------------------------------------------------- our pipeline
VIEWS = [(0, 0), (1, 2), (1, 1)]  # (segment, draw), as ContrastiveBrain.compute_forward with adversarial_weight > 0


class MixCollate:
    """Our collation (DrawCollate: PaddedBatch, the draws padded into tensors), then what our training device
    does per batch: the three views mixed (and their LogMel)."""

    def __init__(self, samples, logmel=None):
        from lobes.wave_augment import DrawCollate
        self.collate, self.logmel = DrawCollate(samples, "draws"), logmel

    def __call__(self, examples):
        return device_work(self.collate(examples), self.logmel)


def device_work(batch, logmel=None, times=None):
    from lobes.wave_augment import mix
    segments, out = batch.segments.data, []
    start = time.perf_counter()
    for segment, view in VIEWS:
        out.append(mix(segments[:, segment], *batch.draws[view]))
    mixed = time.perf_counter()
    if logmel is not None:
        out = [logmel(w) for w in out]
    if times is not None:
        times["mix"] += mixed - start
        times["logmel"] += time.perf_counter() - mixed
    return out


def build_ours(bench_csv, tmp, batch_size, **extra):
    """Stage 1's training set and hparams (contrastive.yaml, `extra` overrides too) on the benchmark's items."""
    sys.path.insert(0, STAGE1)
    from hyperpyyaml import load_hyperpyyaml
    from train import dataio_prepare
    overrides = {"output_folder": os.path.join(tmp, "ours"), "prepare_folder": os.path.join(tmp, "ours"),
                 "noise_rir_folder": os.path.join(PREPARED, "noise_rir"), "train_csv": bench_csv,
                 "val_csv": bench_csv, "test_csv": bench_csv, "batch_size": batch_size, **extra}
    with open(os.path.join(STAGE1, "hparams", "contrastive.yaml")) as f:
        hparams = load_hyperpyyaml(f, overrides)
    hparams["noise_draw"] = hparams["noise_draw"]()  # as main() does
    return dataio_prepare(hparams)["train"], hparams


# ----------------------------------------------------------------------------------------------------- timings
def time_items(dataset, n):
    items, start = [], time.perf_counter()
    for i in range(n):
        items.append(dataset[i])
    return items, time.perf_counter() - start


def time_loader(loader):
    count, start = 0, time.perf_counter()
    for batch in loader:
        count += len(batch[0]) if isinstance(batch, list) else len(batch)
    return count, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--original", required=True, help="the original's Stage1 folder (holds dataLoader.py)")
    parser.add_argument("--items", type=int, default=1024)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument("--warmup", type=int, default=8, help="items read first, untimed, by each loader")
    parser.add_argument("--train_csv", default=os.path.join(PREPARED, "voxceleb", "vox2_train.csv"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.items % args.batch_size:
        parser.error("--items must be a multiple of --batch_size (the loaders drop the last partial batch)")
    torch.set_num_threads(1)
    original = os.path.abspath(args.original)
    if not os.path.exists(os.path.join(original, "dataLoader.py")):
        parser.error(f"{original}/dataLoader.py not found")

    tmp = tempfile.mkdtemp(prefix="lgl_loader_")
    cwd = os.getcwd()
    try:
        data = prepare(tmp, args.items, args.train_csv, os.path.join(PREPARED, "noise_rir"))
        print(f"{args.items} items cycled over {data['utterances']} utterances >= "
              f"{(2 * ORIGINAL_SAMPLES + 2) / RATE:.2f} s; musan_split chunks {data['chunks']}; "
              f"rir.npy {data['rir_shape']}; temporary folder {tmp}")

        sys.path.insert(0, ROOT)
        from lobes.speaker_ssl import LogMel
        from speechbrain.dataio.dataloader import make_dataloader

        from lobes.wave_augment import DrawCollate
        ours, hparams = build_ours(data["bench_csv"], tmp, args.batch_size)
        logmel = LogMel(sample_rate=hparams["sample_rate"])
        ours_segment = int(hparams["segment_seconds"] * hparams["sample_rate"]) / hparams["sample_rate"]

        np.float = float  # numpy >= 1.24 removed the alias the original uses (.astype(numpy.float))
        sys.path.insert(0, original)
        import dataLoader
        os.chdir(tmp)  # train_loader loads 'rir.npy' from the working directory
        theirs = dataLoader.train_loader(max_frames=ORIGINAL_FRAMES, train_list=data["train_list"],
                                         train_path=data["train_path"], musan_path=data["musan"])
        assert len(theirs) == len(ours) == args.items
        sample, item = theirs[0], ours[0]
        print(f"original item {tuple(sample.shape)} {sample.dtype}; ours: segments {tuple(item['segments'].shape)} "
              f"+ {len(item['draws'])} draws")
        for i in range(args.warmup):
            theirs[i], ours[i]

        n, best = args.items, {}

        def record(name, processes, seconds, per_item_audio):
            key, rate = (name, processes), n / seconds
            if key not in best or rate > best[key][1]:
                best[key] = (processes, rate, rate * per_item_audio)

        dev = {"mix": 0.0, "logmel": 0.0, "collate": 0.0, "batches": 0}
        samples = int(round(ours_segment * RATE))
        collate = DrawCollate(samples, "draws")  # our loader's collate_fn, as train.py gives it
        for round_ in range(args.repeats):
            # one process, __getitem__ directly
            _, t = time_items(theirs, n)
            record("original train_loader", 1, t, 2 * ORIGINAL_SAMPLES / RATE)
            items, t = time_items(ours, n)
            record("ours (dataio_prepare)", 1, t, 2 * ours_segment)
            times, start = {"mix": 0.0, "logmel": 0.0}, time.perf_counter()
            batches = [collate([dict(item) for item in items[i:i + args.batch_size]])
                       for i in range(0, n, args.batch_size)]
            collate_s = time.perf_counter() - start
            for batch in batches:
                device_work(batch, logmel, times)
            record("ours + mix", 1, t + collate_s + times["mix"], 2 * ours_segment)
            record("ours + mix + LogMel", 1, t + collate_s + times["mix"] + times["logmel"], 2 * ours_segment)
            dev["mix"] += times["mix"]
            dev["logmel"] += times["logmel"]
            dev["collate"] += collate_s
            dev["batches"] += len(batches)

            # DataLoaders
            w = args.num_workers
            loader = torch.utils.data.DataLoader(theirs, batch_size=args.batch_size, shuffle=True, num_workers=w,
                                                 pin_memory=False, drop_last=True,
                                                 worker_init_fn=dataLoader.worker_init_fn, prefetch_factor=5)
            count, t = time_loader(loader)
            assert count == n
            record("original train_loader", w, t, 2 * ORIGINAL_SAMPLES / RATE)
            for name, collate_fn in (("ours (dataio_prepare)", collate), ("ours + mix", MixCollate(samples)),
                                     ("ours + mix + LogMel", MixCollate(samples, logmel))):
                loader = make_dataloader(ours, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                         num_workers=w, collate_fn=collate_fn)
                count, t = time_loader(loader)
                assert count == n, (name, count)
                record(name, w, t, 2 * ours_segment)
            # ours through a DataLoader without workers: its collation alone, no transfer between processes
            count, t = time_loader(make_dataloader(ours, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                                   collate_fn=collate))
            record("ours (dataio_prepare), DataLoader without workers", 1, t, 2 * ours_segment)
            print(f"round {round_ + 1}/{args.repeats} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        os.chdir(cwd)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{n} items, batch size {args.batch_size}, best of {args.repeats} rounds, torch threads 1; "
          f"s of audio = speech read, 2 segments per item ({2 * ORIGINAL_SAMPLES / RATE:.2f} s original, "
          f"{2 * ours_segment:.2f} s ours); the three views output are 1.5 times that\n")
    print("| loader | processes | items/s | s of audio/s | per process (items/s) |")
    print("|---|---:|---:|---:|---:|")
    for processes in (1, args.num_workers):
        for name in ("original train_loader", "ours (dataio_prepare)", "ours + mix", "ours + mix + LogMel"):
            p, rate, audio = best[(name, processes)]
            print(f"| {name} | {p} | {rate:.1f} | {audio:.1f} | {rate / p:.1f} |")
    p, rate, audio = best[("ours (dataio_prepare), DataLoader without workers", 1)]
    print(f"| ours (dataio_prepare), DataLoader num_workers=0 | 1 | {rate:.1f} | {audio:.1f} | {rate:.1f} |")
    b = dev["batches"]
    print(f"\nour device-side work on the CPU, 1 thread, per batch of {args.batch_size} (mean of {b}): "
          f"PaddedBatch {1e3 * dev['collate'] / b:.1f} ms, batch_draws + mix of 3 views {1e3 * dev['mix'] / b:.1f} ms, "
          f"LogMel of 3 views {1e3 * dev['logmel'] / b:.1f} ms")


if __name__ == "__main__":
    main()
