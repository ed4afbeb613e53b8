"""Shared fixtures: the `tiny` embedded corpus, generated once per test session."""

import pytest

from corpora.make_embedded import make_embedded


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """(root, summary) of a tiny corpus generated with seed 0."""
    root = tmp_path_factory.mktemp("embedded") / "tiny"
    summary = make_embedded(str(root), size="tiny", seed=0, num_workers=2)
    return root, summary


@pytest.fixture(scope="session")
def tiny_wav2vec2():
    """`make(folder, pretraining=True)`: saves a tiny random wav2vec 2.0 (2 layers, 32-d, the real 2 x 320 quantizer
    when `pretraining`) with save_pretrained, and returns the folder."""

    def make(folder, pretraining=True):
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2ForPreTraining, Wav2Vec2Model

        config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                                codevector_dim=16, proj_codevector_dim=16, num_codevector_groups=2,
                                num_codevectors_per_group=320)
        torch.manual_seed(0)
        (Wav2Vec2ForPreTraining if pretraining else Wav2Vec2Model)(config).save_pretrained(folder)
        return str(folder)

    return make
