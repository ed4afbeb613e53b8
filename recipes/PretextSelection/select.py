#!/usr/bin/env python3
"""Ranks pseudo-labels as pretext tasks for a downstream task and learns their weights.

    python select.py hparams/select_librispeech.yaml     # ASR: one group per word
    python select.py hparams/select_voxceleb.yaml        # speakers: one group per speaker

Steps: downstream groups from the prepared manifests; per group, K (speech similarity)
and the pseudo-label values of every segment, cached under `<output_folder>/matrices`
(a rerun or a killed run resumes group by group; the original scripts' K/L layout is
written too); single-label HSIC ranking; softmax and sparsemax weights. Results go to
`<output_folder>/<date-time>/` (also reachable as `<output_folder>/latest`).
The work is done in selection.py; this file only starts it.
"""

import sys

if __name__ == "select":
    # A script of this folder runs, so this folder is first on sys.path, and this file
    # was imported in place of the standard library's `select` module: load the real
    # one instead (the import system then hands it to whoever asked).
    import importlib
    import os

    _here = os.path.dirname(os.path.abspath(__file__))
    _saved = sys.path[:]
    sys.path[:] = [p for p in _saved if os.path.abspath(p or os.curdir) != _here]
    del sys.modules["select"]
    try:
        importlib.import_module("select")
    finally:
        sys.path[:] = _saved
elif __name__ == "__main__":
    from selection import main

    main(sys.argv[1:])
