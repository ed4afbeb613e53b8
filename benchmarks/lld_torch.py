"""The torch descriptors (labellers.lld_torch) against openSMILE, same audio, one run, in times real time.

    python benchmarks/lld_torch.py --manifest results/prepared/embedded/common_voice/train.csv \
        --utterances 200 [--device cuda:0]

One CPU thread for both (torch.set_num_threads(1)). Rows:
- openSMILE eGeMAPSv02 + ComParE_2016 (LLD-only config): what the stored pseudo-labels cost per utterance;
- openSMILE eGeMAPSv02 alone (the cheaper set; it holds alphaRatio, Hammarberg and loudness);
- torch, all the columns it computes, one utterance at a time and in padded batches of 16;
- torch, the three eGeMAPS columns only; the pitch columns (labellers.lld_pitch), with and without
  ComParE's waveform HNR (sequential per frame);
- with --device: on that device (synchronized, after one warm-up pass), in padded batches of --device_batch:
  every column but ComParE's waveform HNR (the F0 chain and its Viterbi included), the energy and spectral
  columns, the pitch chain, the waveform HNR (its period matching runs on the CPU whatever the device), and
  the share of the pitch chain's time spent in the Viterbi's frame loop.
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
from timing import best_time, synchronize


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
        synchronize(device)
    return run


def viterbi_share(wavs, batch_size, device):
    """(share of the pitch chain's time spent in labellers.pitch_viterbi.viterbi, the chain's time) on `device`."""
    import labellers.lld_pitch as lld_pitch
    inner, spent = lld_pitch.viterbi, [0.0]

    def timed(*args):
        synchronize(device)
        start = time.perf_counter()
        out = inner(*args)
        synchronize(device)
        spent[0] += time.perf_counter() - start
        return out
    run = torch_runner(wavs, [c for c in PITCH_COLUMNS if c != "logHNR_sma"], batch_size, device)
    run()
    lld_pitch.viterbi = timed
    try:
        start = time.perf_counter()
        run()
        total = time.perf_counter() - start
    finally:
        lld_pitch.viterbi = inner
    return spent[0] / total, total


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
    parser.add_argument("--device_batch", type=int, default=128, help="utterances per batch on --device")
    parser.add_argument("--skip_cpu", action="store_true", help="only the --device rows")
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
    if args.skip_cpu:
        cases = []
    if args.device:
        no_wave_hnr = [c for c in PITCH_COLUMNS if c != "logHNR_sma"]
        on_device = [(COLUMNS + no_wave_hnr, f"all {len(COLUMNS) + len(no_wave_hnr)} columns but the waveform HNR "
                                             "(F0, voicing, ACF HNR included)"),
                     (COLUMNS, f"the {len(COLUMNS)} energy and spectral columns"), (egemaps_columns, "3 eGeMAPS columns"),
                     (no_wave_hnr, "the pitch chain without the waveform HNR"),
                     (["logHNR_sma"], "ComParE's waveform HNR (logHNR_sma, with its F0)")]
        for columns, label in on_device:
            run = torch_runner(wavs, columns, args.device_batch, args.device)
            run()  # warm-up: kernels, allocator
            cases.append((f"torch on {args.device}, {label}, batches of {args.device_batch}", run))
    print("| extraction | x real time |\n|---|---:|")
    for label, fn in cases:
        print(f"| {label} | {seconds / best_time(fn, args.repeats):.0f} |", flush=True)
    if args.device:
        share, total = viterbi_share(wavs, args.device_batch, args.device)
        print(f"\npitch chain on {args.device}: {total:.3f} s for {seconds / 60:.1f} min of audio, "
              f"{share:.0%} of it in the Viterbi (its frame loop and backtracking)")
    if args.skip_cpu:
        return
    worst = max_error(wavs[:50])
    print("\nlargest difference from openSMILE, share of the column's range (first 50 utterances): "
          + ", ".join(f"{c} {e:.1e}" for c, e in zip(COLUMNS + PITCH_COLUMNS, worst)
                      if not c.startswith("audSpec_Rfilt"))
          + f", audSpec_Rfilt_sma[0..25] {max(e for c, e in zip(COLUMNS, worst) if c.startswith('audSpec_Rfilt')):.1e}")


if __name__ == "__main__":
    main()
