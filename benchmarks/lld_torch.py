"""The torch descriptors (labellers.lld_torch) against openSMILE, same audio, one run, in times real time.

    python benchmarks/lld_torch.py --manifest results/prepared/embedded/common_voice/train.csv \
        --utterances 200 [--device cuda:0]

One CPU thread for both (torch.set_num_threads(1)). Rows:
- openSMILE eGeMAPSv02 + ComParE_2016 (LLD-only config): what the stored pseudo-labels cost per utterance;
- openSMILE eGeMAPSv02 alone (the cheaper set; it holds alphaRatio, Hammarberg and loudness);
- torch, all the columns it computes, one utterance at a time and in padded batches of 16;
- torch, the three eGeMAPS columns only; the pitch columns (labellers.lld_pitch), with and without
  ComParE's waveform HNR (sequential per frame);
- with --device: the same batches on that device (synchronized), after one warm-up pass.
The table also gives the largest difference from openSMILE over the utterances, as a share of each column's range.
"""

import argparse
import time

import numpy as np
import torch

from corpora.audio import load_audio
from corpora.manifest import read_csv
from labellers.lld_pitch import PITCH_COLUMNS, PitchLLD
from labellers.lld_torch import COLUMNS, TorchLLD
from labellers.opensmile_lld import OpenSmileLLD, _smile


def _best_time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _batches(wavs, size):
    order = np.argsort([len(w) for w in wavs])  # similar lengths together, as a length-sorted loader gives
    for i in range(0, len(order), size):
        chunk = [wavs[j] for j in order[i:i + size]]
        longest = max(len(w) for w in chunk)
        batch = torch.zeros(len(chunk), longest)
        for k, w in enumerate(chunk):
            batch[k, :len(w)] = torch.from_numpy(w)
        yield batch, torch.tensor([len(w) / longest for w in chunk])


def torch_runner(wavs, columns, batch_size, device="cpu"):
    pitch = [c for c in columns if c in PITCH_COLUMNS]
    other = [c for c in columns if c not in PITCH_COLUMNS]
    modules = ([TorchLLD(other).to(device)] if other else []) + ([PitchLLD(pitch).to(device)] if pitch else [])
    batches = [(b.to(device), l.to(device)) for b, l in _batches(wavs, batch_size)]

    def run():
        with torch.no_grad():
            for batch, lengths in batches:
                for module in modules:
                    module(batch, lengths)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return run


def max_error(wavs):
    """Largest |torch - openSMILE| per column over the utterances, as a share of the column's range there."""
    reference, modules = OpenSmileLLD(["eGeMAPSv02", "ComParE_2016"]), (TorchLLD(), PitchLLD())
    worst = np.zeros(len(COLUMNS) + len(PITCH_COLUMNS))
    for wav in wavs:
        names, table = reference.extract(wav, 16000)
        tables = [m(torch.from_numpy(wav)[None]) for m in modules]
        ours, rows = torch.cat([t[0] for t in tables], -1), tables[0][1]
        theirs = table[:, [names.index(c) for c in COLUMNS + PITCH_COLUMNS]]
        span = np.maximum(theirs.max(0) - theirs.min(0), 1e-6)
        worst = np.maximum(worst, np.abs(ours[0, :int(rows[0])].numpy() - theirs).max(0) / span)
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--utterances", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = read_csv(args.manifest)[: args.utterances]
    wavs = [load_audio(r["wav"]).numpy() for r in rows]
    seconds = sum(len(w) for w in wavs) / 16000
    print(f"{len(wavs)} utterances, {seconds / 60:.1f} min of audio, one CPU thread\n")
    both = [_smile("eGeMAPSv02"), _smile("ComParE_2016")]
    egemaps_columns = ["Loudness_sma3", "alphaRatio_sma3", "hammarbergIndex_sma3"]
    cases = [
        ("openSMILE eGeMAPSv02 + ComParE_2016 (LLD-only)", lambda: [s.process_signal(w, 16000) for w in wavs
                                                                    for s in both]),
        ("openSMILE eGeMAPSv02", lambda: [both[0].process_signal(w, 16000) for w in wavs]),
        (f"torch, {len(COLUMNS)} columns, one utterance at a time", torch_runner(wavs, COLUMNS, 1)),
        (f"torch, {len(COLUMNS)} columns, batches of 16", torch_runner(wavs, COLUMNS, 16)),
        ("torch, loudness + alphaRatio + Hammarberg, batches of 16", torch_runner(wavs, egemaps_columns, 16)),
        ("torch, the 5 pitch columns (F0, voicing, both HNRs), batches of 16", torch_runner(wavs, PITCH_COLUMNS, 16)),
        ("torch, pitch without ComParE's waveform HNR, batches of 16",
         torch_runner(wavs, [c for c in PITCH_COLUMNS if c != "logHNR_sma"], 16)),
        ("torch, ComParE's waveform HNR (logHNR_sma), batches of 16", torch_runner(wavs, ["logHNR_sma"], 16)),
        ("torch, a selection's five (alphaRatio, RASTA L1, RMS, ZCR, waveform HNR), batches of 16",
         torch_runner(wavs, ["alphaRatio_sma3", "audspecRasta_lengthL1norm_sma", "pcm_RMSenergy_sma", "pcm_zcr_sma",
                             "logHNR_sma"], 16)),
    ]
    if args.device:
        for columns, label in ((COLUMNS, f"{len(COLUMNS)} columns"), (egemaps_columns, "3 eGeMAPS columns")):
            run = torch_runner(wavs, columns, 16, args.device)
            run()  # warm-up: kernels, allocator
            cases.append((f"torch on {args.device}, {label}, batches of 16", run))
    print("| extraction | x real time |\n|---|---:|")
    for label, fn in cases:
        print(f"| {label} | {seconds / _best_time(fn, args.repeats):.0f} |", flush=True)
    worst = max_error(wavs[:50])
    print("\nlargest difference from openSMILE, share of the column's range (first 50 utterances): "
          + ", ".join(f"{c} {e:.1e}" for c, e in zip(COLUMNS + PITCH_COLUMNS, worst)
                      if not c.startswith("audSpec_Rfilt"))
          + f", audSpec_Rfilt_sma[0..25] {max(e for c, e in zip(COLUMNS, worst) if c.startswith('audSpec_Rfilt')):.1e}")


if __name__ == "__main__":
    main()
