#!/usr/bin/env python3
"""Ranks pseudo-labels as pretext tasks for a downstream task and learns their weights.

    python select_tasks.py hparams/select_librispeech.yaml     # ASR: one group per word
    python select_tasks.py hparams/select_voxceleb.yaml        # speakers: one group per speaker

Steps: downstream groups from the prepared manifests; per group, K (speech similarity)
and the pseudo-label values of every segment, cached under `<output_folder>/matrices`
(a rerun or a killed run resumes group by group; the original scripts' K/L layout is
written too); single-label HSIC ranking; softmax and sparsemax weights. Results go to
`<output_folder>/<date-time>/` (also reachable as `<output_folder>/latest`).
The work is done in selection.py; this file only starts it. (It is not called select_tasks.py:
a script's folder comes first on sys.path, and that name would shadow the standard
library's `select` module for everything the script imports.)
"""

import sys

from selection import main

if __name__ == "__main__":
    main(sys.argv[1:])
