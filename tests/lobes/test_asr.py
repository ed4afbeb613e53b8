"""lobes.asr: the CTC head's frame rate for 10 and 20 ms upstreams, and the error rates."""

import pytest
import torch

from lobes.asr import CTCHead, ErrorRates, conv_strides


def test_conv_strides_multiply_to_the_total():
    for total in (1, 2, 3, 4, 6, 8, 12):
        for layers in (1, 2, 3):
            strides = conv_strides(total, layers)
            assert len(strides) == layers and torch.tensor(strides).prod().item() == total


@pytest.mark.parametrize("frame, hop, frames, expected", [
    (0.04, 0.01, 300, 75), (0.04, 0.01, 301, 76), (0.04, 0.02, 150, 75), (0.04, 0.04, 75, 75),
    (0.02, 0.01, 300, 150), (0.02, 0.01, 301, 151), (0.02, 0.02, 150, 150)])
def test_head_outputs_one_frame_per_ctc_frame_whatever_the_upstream_hop(frame, hop, frames, expected):
    head = CTCHead(input_size=12, hop_seconds=hop, output_neurons=7, frame_seconds=frame, conv_channels=8,
                   rnn_neurons=8, dnn_neurons=8, rnn_layers=1)
    out = head(torch.randn(2, frames, 12))
    assert out.shape == (2, expected, 7)
    assert torch.allclose(out.exp().sum(-1), torch.ones(2, expected), atol=1e-5)  # log-probabilities


def test_head_rejects_a_frame_rate_that_is_not_a_multiple_of_the_hop():
    with pytest.raises(ValueError, match="whole multiple"):
        CTCHead(input_size=4, hop_seconds=0.03, output_neurons=3, frame_seconds=0.04)


def test_error_rates_match_hand_counts():
    rates = ErrorRates()
    # u1: "SAT" -> "SAD" is 1 substitution of 4 words; "MAT" deleted: 2 word errors of 4 words.
    # Characters (space counted): ref "THE CAT SAT MAT" = 15 characters; hyp "THE CAT SAD" =
    # 1 substitution (T->D) + 4 deletions (" MAT") = 5 errors.
    # u2: exact, 2 words / 7 characters.
    rates.append(["u1", "u2"], ["THE CAT SAD", "NO BIRD"], ["THE CAT SAT MAT", "NO BIRD"])
    result = rates.summarize()
    assert result["WER"] == pytest.approx(100 * 2 / 6)
    assert result["CER"] == pytest.approx(100 * 5 / 22)


def test_error_rates_write_per_utterance_alignments(tmp_path):
    rates = ErrorRates()
    rates.append(["utt-7"], ["HELLO"], ["HELLO WORLD"])
    rates.write(tmp_path / "wer.txt")
    text = (tmp_path / "wer.txt").read_text()
    assert "%WER 50.00" in text and "utt-7" in text and "Character error rate" in text
