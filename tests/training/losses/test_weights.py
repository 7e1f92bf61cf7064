"""Occurrence rates and per-AU class weights (paper Eq. 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aunce_rt.training.losses import au_class_weights, occurrence_rates, weights_from_rates
from aunce_rt.training.losses.weights import RATE_EPS, UNKNOWN_RATE


def test_occurrence_rates_ignore_masked_entries() -> None:
    labels = torch.tensor([[1, 0, -1], [0, 0, -1], [1, -1, -1], [1, 1, -1]])
    assert occurrence_rates(labels).tolist() == pytest.approx([0.75, 1 / 3, UNKNOWN_RATE])


def test_weights_by_hand_and_sum_to_n() -> None:
    labels = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 0, 0]])  # r = 1/4, 1/4, 3/4
    weights = au_class_weights(labels)
    inverse = [4, 4, 4 / 3]
    expected = [3 * v / sum(inverse) for v in inverse]
    assert weights.tolist() == pytest.approx(expected, rel=1e-6)
    assert float(weights.sum()) == pytest.approx(3.0)
    assert weights.dtype == torch.float32


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_sum_to_n_for_random_labels(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(-1, 2, (50, 12), generator=g)
    weights = au_class_weights(labels)
    assert float(weights.sum()) == pytest.approx(12.0, rel=1e-5)
    order = torch.argsort(occurrence_rates(labels))
    assert bool((weights[order][1:] <= weights[order][:-1] + 1e-6).all())  # rarer AU -> larger weight


def test_rates_of_zero_and_one_are_clamped() -> None:
    weights = weights_from_rates([0.0, 1.0])
    inverse = [1 / RATE_EPS, 1 / (1 - RATE_EPS)]
    assert torch.isfinite(weights).all()
    assert weights.tolist() == pytest.approx([2 * v / sum(inverse) for v in inverse], rel=1e-5)


def test_bad_labels_are_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        occurrence_rates(torch.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match="-1"):
        au_class_weights(torch.tensor([[2, 0]]))
    with pytest.raises(ValueError, match="NaN"):
        weights_from_rates([float("nan"), 0.5])
