"""WCELoss against the hand formula of spec/AUNCE.md."""

from __future__ import annotations

import math

import pytest
import torch

from aunce_rt.training.losses import WCELoss, au_class_weights


def hand_wce(logits: list[list[float]], labels: list[list[int]], weights: list[float]) -> float:
    total, count = 0.0, 0
    for row_logits, row_labels in zip(logits, labels, strict=True):
        for x, y, w in zip(row_logits, row_labels, weights, strict=True):
            if y < 0:
                continue
            p = 1 / (1 + math.exp(-x))
            total += -w * (y * math.log(p) + (1 - y) * math.log(1 - p))
            count += 1
    return total / count if count else 0.0


def test_matches_hand_formula_with_given_weights() -> None:
    logits = [[0.3, -1.2, 2.0], [-0.5, 0.7, -3.0]]
    labels = [[1, 0, 1], [0, 1, 1]]
    weights = [0.5, 1.5, 1.0]
    got = WCELoss()(torch.tensor(logits), torch.tensor(labels), au_weights=torch.tensor(weights))
    assert float(got) == pytest.approx(hand_wce(logits, labels, weights), rel=1e-6)


def test_default_weights_come_from_occurrence_or_batch() -> None:
    logits = torch.tensor([[0.3, -1.2], [-0.5, 0.7], [1.0, 1.0]])
    labels = torch.tensor([[1, 0], [0, 1], [0, 1]])
    batch = au_class_weights(labels).tolist()
    assert float(WCELoss()(logits, labels)) == pytest.approx(
        hand_wce(logits.tolist(), labels.tolist(), batch)
    )
    occurrence = torch.tensor([0.2, 0.8])  # w = 2 * (5, 1.25) / 6.25 = (1.6, 0.4)
    got = WCELoss()(logits, labels, occurrence=occurrence)
    assert float(got) == pytest.approx(hand_wce(logits.tolist(), labels.tolist(), [1.6, 0.4]), rel=1e-6)
    unweighted = WCELoss(au_weighted=False)(logits, labels, au_weights=torch.tensor([9.0, 9.0]))
    assert float(unweighted) == pytest.approx(
        hand_wce(logits.tolist(), labels.tolist(), [1.0, 1.0]), rel=1e-6
    )


def test_masked_entries_are_left_out_of_sum_and_count() -> None:
    logits = torch.tensor([[0.3, 50.0], [-0.5, 0.7]], requires_grad=True)
    labels = torch.tensor([[1, -1], [0, 1]])
    loss = WCELoss(au_weighted=False)(logits, labels)
    assert loss.item() == pytest.approx(hand_wce(logits.tolist(), labels.tolist(), [1.0, 1.0]), rel=1e-6)
    loss.backward()
    assert float(logits.grad[0, 1]) == 0.0


def test_all_masked_gives_zero_and_extreme_logits_stay_finite() -> None:
    logits = torch.tensor([[200.0, -200.0]], requires_grad=True)
    assert WCELoss()(logits, torch.tensor([[-1, -1]])).item() == 0.0
    loss = WCELoss(au_weighted=False)(logits, torch.tensor([[0, 1]]))
    loss.backward()
    assert loss.item() == pytest.approx(200.0, rel=1e-6)
    assert torch.isfinite(logits.grad).all()


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        WCELoss()(torch.zeros(2, 3), torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="-1, 0, 1"):
        WCELoss()(torch.zeros(1, 2), torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="au_weights"):
        WCELoss()(torch.zeros(1, 2), torch.tensor([[0, 1]]), au_weights=torch.ones(3))
