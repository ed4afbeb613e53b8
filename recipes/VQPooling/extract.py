#!/usr/bin/env python3
"""Frames and VQ codes of every utterance the VQ pooling tasks use, cached once per upstream.

    python extract.py hparams/extract_encoder.yaml      # our pretrained encoder; codes: a product quantizer
    python extract.py hparams/extract_fbank.yaml        # the Fbank floor; codes: a product quantizer
    python extract.py hparams/extract_wav2vec2.yaml --wav2vec2_folder /models/wav2vec2-base   # its own quantizer

Upstreams with their own quantizer (`wav2vec2_vq:<folder>`, a local wav2vec 2.0 pretraining checkpoint) give frames
(the mean of the hidden states) and codes in one pass. Any other spec of lobes.upstream (`fbank`, `mfcc`,
`pretrained:<folder>`, `random:<folder>`) gives frames; a product quantizer (lobes.frame_codes) is then learned on the
frames of `quantizer_training` (LibriSpeech, which no task reads, as wav2vec 2.0's quantizer learned on LibriSpeech)
and codes every frame. Interrupted runs resume: finished
utterances and a fitted quantizer are kept. Each utterance goes through the upstream alone, so padding cannot change
its frames (a BiLSTM or a group-normalized wav2vec 2.0 reads padding).

On a cluster, `--shard i/n` computes the frames of one slice of the utterances (a Slurm job array: one task per
slice, all writing the same `features_folder` on a shared disk); a last run without `--shard` then fits the quantizer
and codes every utterance (see the README's sbatch example).
"""

import logging
import os
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from tqdm import tqdm

from corpora.audio import load_audio
from corpora.files import write_json
from corpora.manifest import check_audio_files, parse_shard, read_csv
from features import FeatureStore
from lobes.frame_codes import ProductQuantizer, Wav2Vec2MeanCodes
from lobes.upstream import claim_output_folder, load_upstream, prepare_upstream

logger = logging.getLogger(__name__)


def utterances(hparams):
    """[(dataset, ID, wav)] of every manifest, each utterance once."""
    seen, out = set(), []
    for dataset, manifests in hparams["manifests"].items():
        for name in manifests:
            path = os.path.join(hparams["prepared_folder"], dataset, name)
            check_audio_files(path)
            for row in read_csv(path):
                if (dataset, row["ID"]) not in seen:
                    seen.add((dataset, row["ID"]))
                    out.append((dataset, row["ID"], row["wav"]))
    return out


def build_upstream(hparams):
    spec = str(hparams["upstream"])
    if spec.startswith("wav2vec2_vq:"):
        return Wav2Vec2MeanCodes(spec.partition(":")[2])
    first = next(iter(hparams["quantizer_training"]))
    upstream = load_upstream(spec, seed=hparams["seed"])
    # a random twin's BatchNorm statistics come from training audio (lobes.upstream.prepare_upstream)
    return prepare_upstream(upstream, os.path.join(hparams["prepared_folder"], first), seed=hparams["seed"]).eval()


@torch.no_grad()
def extract_frames(upstream, store, items, device, sample_rate):
    todo = [item for item in items if not store.has(item[0], item[1], "feats")
            or (isinstance(upstream, Wav2Vec2MeanCodes) and not store.has(item[0], item[1], "codes"))]
    upstream.to(device)
    for dataset, utt_id, wav in tqdm(todo, desc="frames", unit="utt", disable=not todo):
        signal = load_audio(wav, sample_rate)[None].to(device)
        out = upstream(signal, torch.ones(1, device=device))
        frames, codes = out if isinstance(out, tuple) else (out, None)
        if not torch.isfinite(frames.half()).all():  # as stored: float16 overflows above 65504
            raise ValueError(f"{wav}: the upstream gave NaN, infinite or float16-overflowing frames (|x| > 65504); "
                             "check the audio and the encoder")
        if codes is not None:
            store.save(dataset, utt_id, "codes", codes[0].cpu().numpy())
        store.save(dataset, utt_id, "feats", frames[0].float().cpu().numpy())
    return len(todo)


def quantize(store, items, hparams):
    """Fits the product quantizer on the training manifests' frames (once) and codes every utterance."""
    path = os.path.join(store.folder, "quantizer.npz")
    wanted = {"groups": hparams["groups"], "codebook_size": hparams["codebook_size"], "seed": hparams["seed"],
              "training": list(hparams["quantizer_training"]), "max_frames": hparams["max_quantizer_frames"]}
    if os.path.isfile(path):
        quantizer = ProductQuantizer.load(path)
        if quantizer.settings != wanted:
            raise ValueError(f"{path} was fitted with {quantizer.settings}, not {wanted}: delete it and the "
                             f"*.codes.npy files under {store.folder} to quantize again (or extract to another --name)")
    else:
        stale = [os.path.join(d, f) for d, _, names in os.walk(store.folder) for f in names if f.endswith(".codes.npy")]
        for old in stale:  # codes of an earlier quantizer must not mix with the new one's
            os.remove(old)
        training = []
        for manifest in hparams["quantizer_training"]:
            dataset = manifest.split("/")[0]
            rows = read_csv(os.path.join(hparams["prepared_folder"], manifest))
            training += [store.load(dataset, row["ID"], "feats") for row in rows]
        logger.info("product quantizer: %d groups x %d codes from %d training frames", hparams["groups"],
                    hparams["codebook_size"], sum(len(f) for f in training))
        quantizer = ProductQuantizer(hparams["groups"], hparams["codebook_size"], seed=hparams["seed"],
                                     max_frames=hparams["max_quantizer_frames"]).fit(training)
        quantizer.settings = wanted
        quantizer.save(path + ".tmp.npz")
        os.replace(path + ".tmp.npz", path)
    todo = [item for item in items if not store.has(item[0], item[1], "codes")]
    for dataset, utt_id, _ in tqdm(todo, desc="codes", unit="utt", disable=not todo):
        store.save(dataset, utt_id, "codes", quantizer.encode(store.load(dataset, utt_id, "feats")))
    return quantizer


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # its search for CPU-specific builds is not news
    folder = hparams["features_folder"]
    kind, sep, path = str(hparams["upstream"]).partition(":")
    hparams["upstream"] = f"{kind}:{os.path.abspath(path)}" if sep else kind  # one spelling per encoder folder
    claim_output_folder(folder, hparams["upstream"])  # never mix the frames of two upstreams
    store = FeatureStore(folder)
    items = utterances(hparams)
    shard, shards = parse_shard(hparams.get("shard", "0/1"))
    upstream = build_upstream(hparams)
    device = run_opts.get("device", "cpu")
    if shards > 1:  # one slice of the frames; a run without --shard then quantizes and finishes
        computed = extract_frames(upstream, store, sorted(items)[shard::shards], device, hparams["sample_rate"])
        print(f"shard {shard}/{shards}: {computed} utterances computed -> {folder}; when every shard is done, run "
              "once without --shard to finish (quantizer, codes, features.json)")
        return
    computed = extract_frames(upstream, store, items, device, hparams["sample_rate"])
    if isinstance(upstream, Wav2Vec2MeanCodes):
        groups, codebook_size, coder = upstream.groups, upstream.codebook_size, "wav2vec 2.0 quantizer"
    else:
        quantizer = quantize(store, items, hparams)
        groups, codebook_size, coder = quantizer.groups, quantizer.codebook_size, "product quantizer"
    sample = store.load(*items[0][:2], "feats")
    write_json(store.info_path, {"upstream": str(hparams["upstream"]), "frame_size": int(sample.shape[1]),
                                 "hop_seconds": upstream.hop_seconds, "groups": groups,
                                 "codebook_size": codebook_size, "codes": coder, "utterances": len(items)})
    print(f"{len(items)} utterances ({computed} computed now, the rest cached) -> {folder}")


if __name__ == "__main__":
    main(sys.argv[1:])
