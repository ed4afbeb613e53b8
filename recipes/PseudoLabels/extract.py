#!/usr/bin/env python3
"""Extracts OpenSMILE LLD pseudo-labels for every utterance of SpeechBrain manifests.

    python extract.py hparams/extract.yaml [--num_workers N] [--shard i/n] [--reduce]

Without `--shard` (or with `--shard 0/1`) it extracts and normalizes in one go.
On a cluster, run `--shard i/n` on each machine (same output_folder on a shared
disk), then once `--reduce` to merge the statistics and write the normalized
arrays. A rerun skips finished utterances; failed files are listed with the
reason in `<output_folder>/failures.csv`.
"""

import logging
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from corpora.manifest import parse_shard, read_csv
from labellers.lld_extraction import extract_shard, reduce_shards

logger = logging.getLogger(__name__)


def _flag_to_override(argv, flag):
    """`--reduce` alone means `--reduce True` (overrides need a value)."""
    out = []
    for k, arg in enumerate(argv):
        out.append(arg)
        if arg == flag and (k + 1 == len(argv) or argv[k + 1].startswith("--")):
            out.append("True")
    return out


def main(argv):
    hparams_file, run_opts, overrides = sb.parse_arguments(_flag_to_override(argv, "--reduce"))
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(hparams["output_folder"], hyperparams_to_save=hparams_file,
                                   overrides=overrides)
    shard = parse_shard(hparams["shard"])
    if not hparams["reduce"]:
        if not hparams["skip_prep"]:
            run_on_main(hparams["prepare"])
        rows = [row for path in hparams["csv_files"] for row in read_csv(path)]
        train_ids = {row["ID"] for row in read_csv(hparams["train_csv"])}
        failures = extract_shard(rows, train_ids, hparams["output_folder"], hparams["feature_sets"],
                                 shard=shard, num_workers=int(hparams["num_workers"]),
                                 sample_rate=hparams["sample_rate"])
        logger.info("shard %d/%d done, %d failures", shard[0], shard[1], len(failures))
        if shard[1] > 1:
            print(f"shard {shard[0]}/{shard[1]} extracted ({len(failures)} failures); "
                  f"run with --reduce once every shard is done")
            return
    summary = reduce_shards(hparams["output_folder"], shard[1])
    print(f"{hparams['output_folder']}: {summary['utterances']} utterances, {summary['failures']} failures "
          f"(failures.csv), statistics over {summary['train_frames']} training frames; "
          f"non-finite values replaced per column: {summary['nonfinite'] or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1:])
