"""Shared fixtures: the `tiny` embedded corpus, generated once per test session."""

import pytest

from corpora.make_embedded import make_embedded


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """(root, summary) of a tiny corpus generated with seed 0."""
    root = tmp_path_factory.mktemp("embedded") / "tiny"
    summary = make_embedded(str(root), size="tiny", seed=0, num_workers=2)
    return root, summary
