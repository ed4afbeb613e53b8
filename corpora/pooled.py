"""One pretraining corpus from the manifests of several prepared layouts.

Self-supervised pretraining reads no transcript or speaker label, so every speech layout can feed it: Common Voice,
LibriSpeech's training splits, VoxCeleb2 dev. `prepare_pooled` concatenates their manifests into `train.csv` (and the
validation ones into `dev.csv`) with the columns every layout has: ID, duration, wav, and spk_id prefixed with the
layout it comes from (speaker names are only unique within a corpus; they are kept for reference, never trained on).

It refuses a manifest of a downstream **test** split (`test_manifests`): a pretrained encoder must not have heard a
test speaker's utterances. Each source manifest is checked by `read_csv` (named errors), and an ID found in two
sources is refused, since the pseudo-labels are stored per ID.

From the shell, the pool of the layouts that `corpora.prepare_embedded` writes (the sources that
recipes/PseudoLabels/hparams/extract_pooled.yaml names):
`python -m corpora.pooled results/prepared/embedded`.

Example
-------
>>> prepare_pooled("results/prepared/embedded/pooled",  # doctest: +SKIP
...                train_csvs={"common_voice": "results/prepared/embedded/common_voice/train.csv",
...                            "librispeech": "results/prepared/embedded/librispeech/train-clean-100.csv"},
...                valid_csvs={"common_voice": "results/prepared/embedded/common_voice/dev.csv"})
"""

import argparse
import logging
import os

from corpora.files import file_sha1
from corpora.manifest import read_csv, write_csv
from corpora.preparation import PrepareError, already_prepared, save_options

logger = logging.getLogger(__name__)


def _pool(sources, seen):
    rows = []
    for layout, path in sources.items():
        if not os.path.exists(path):
            raise PrepareError(f"pooled manifest: the {layout} manifest {path} is not there; prepare that layout "
                               "first (python -m corpora.prepare_embedded for the embedded corpus; VoxCeleb2's vox2_train.csv "
                               "comes from corpora.voxceleb.prepare_voxceleb with vox2_folder)")
        for row in read_csv(path):
            if row["ID"] in seen:
                raise PrepareError(f"pooled manifest: ID {row['ID']} is in {seen[row['ID']]} and in {path}; the "
                                   "pseudo-labels are stored per ID, so IDs must be unique across the pooled layouts")
            seen[row["ID"]] = path
            rows.append({"ID": row["ID"], "duration": row["duration"], "wav": row["wav"],
                         "spk_id": f"{layout}/{row.get('spk_id', '')}"})
        logger.info("pooled manifest: %s from %s", layout, path)
    return rows


def prepare_pooled(save_folder, train_csvs, valid_csvs, test_manifests=(), skip_prep=False):
    """Writes `<save_folder>/train.csv` and `dev.csv`, the manifests of `train_csvs` and `valid_csvs`
    ({layout: csv path}) one after the other; skips the work when the sources have not changed."""
    if skip_prep:
        return
    test = {os.path.abspath(p) for p in test_manifests}
    for path in [*train_csvs.values(), *valid_csvs.values()]:
        if os.path.abspath(path) in test:
            raise PrepareError(f"pooled manifest: {path} is a downstream test manifest; pretraining on it would let "
                               "the encoder hear the test utterances (use the layout's training split)")
    sources = {**{f"train/{k}": v for k, v in train_csvs.items()}, **{f"valid/{k}": v for k, v in valid_csvs.items()}}
    options = {key: {"path": os.path.abspath(path), "sha1": file_sha1(path) if os.path.exists(path) else None}
               for key, path in sources.items()}
    outputs = [os.path.join(save_folder, name) for name in ("train.csv", "dev.csv")]
    if already_prepared(save_folder, "pooled", options, outputs):
        return
    seen = {}
    train, valid = _pool(train_csvs, seen), _pool(valid_csvs, seen)
    if not train or not valid:
        raise PrepareError(f"pooled manifest: no {'training' if not train else 'validation'} utterance in "
                           f"{train_csvs if not train else valid_csvs}")
    os.makedirs(save_folder, exist_ok=True)
    write_csv(outputs[0], train, ["spk_id"])
    write_csv(outputs[1], valid, ["spk_id"])
    save_options(save_folder, "pooled", options)
    hours = sum(float(r["duration"]) for r in train) / 3600
    logger.info("pooled manifest %s: %d training utterances (%.2f h) from %s, %d validation", outputs[0],
                len(train), hours, ", ".join(train_csvs), len(valid))


def prepared_layout_sources(prepared_root):
    """prepare_pooled's sources in the folders of `corpora.prepare_embedded` (or of each corpus' prepare function
    run into `<prepared_root>/<layout>`): Common Voice train, LibriSpeech train-clean-100 and VoxCeleb2 dev, the
    Common Voice dev split for validation, and the test manifests it must refuse."""
    def j(*parts):
        return os.path.join(prepared_root, *parts)
    return dict(train_csvs={"common_voice": j("common_voice", "train.csv"),
                            "librispeech": j("librispeech", "train-clean-100.csv"),
                            "voxceleb2": j("voxceleb", "vox2_train.csv")},
                valid_csvs={"common_voice": j("common_voice", "dev.csv")},
                test_manifests=[j("common_voice", "test.csv"), j("librispeech", "test-clean.csv"),
                                j("voxceleb", "test.csv"), j("voxceleb", "iden_test.csv")])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Writes <save_folder>/train.csv and dev.csv, the pool of the "
                                                 "layouts prepared under prepared_root (skipped when up to date).")
    parser.add_argument("prepared_root", help="the folder of corpora.prepare_embedded's manifests")
    parser.add_argument("--save_folder", help="default: <prepared_root>/pooled")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    save_folder = args.save_folder or os.path.join(args.prepared_root, "pooled")
    try:
        prepare_pooled(save_folder, **prepared_layout_sources(args.prepared_root))
    except PrepareError as err:
        raise SystemExit(f"corpora.pooled: {err}") from err
    print(os.path.abspath(os.path.join(save_folder, "train.csv")))  # usable from any recipe folder


if __name__ == "__main__":
    main()
