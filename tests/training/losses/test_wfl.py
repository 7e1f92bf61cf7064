"""WFLoss against the hand formula of spec/AUNCE.md."""

from __future__ import annotations

import math

import pytest
import torch

from aunce_rt.training.losses import WCELoss, WFLoss


def hand_wfl(logits: list[list[float]], labels: list[list[int]], weights: list[float], gamma: float) -> float:
    total, count = 0.0, 0
    for row_logits, row_labels in zip(logits, labels, strict=True):
        for x, y, w in zip(row_logits, row_labels, weights, strict=True):
            if y < 0:
                continue
            p = 1 / (1 + math.exp(-x))
            total += -w * (y * (1 - p) ** gamma * math.log(p) + (1 - y) * p**gamma * math.log(1 - p))
            count += 1
    return total / count if count else 0.0


@pytest.mark.parametrize("gamma", [2.0, 0.5])
def test_matches_hand_formula(gamma: float) -> None:
    logits = [[0.3, -1.2, 2.0], [-0.5, 0.7, -3.0]]
    labels = [[1, 0, 1], [0, -1, 1]]
    weights = [0.5, 1.5, 1.0]
    got = WFLoss(gamma=gamma)(torch.tensor(logits), torch.tensor(labels), au_weights=torch.tensor(weights))
    assert float(got) == pytest.approx(hand_wfl(logits, labels, weights, gamma), rel=1e-6)


def test_gamma_zero_is_wce() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 5, generator=g)
    labels = torch.randint(-1, 2, (8, 5), generator=g)
    assert float(WFLoss(gamma=0.0)(logits, labels)) == pytest.approx(
        float(WCELoss()(logits, labels)), rel=1e-6
    )


def test_focusing_down_weights_easy_examples() -> None:
    easy = WFLoss(au_weighted=False)(torch.tensor([[4.0]]), torch.tensor([[1]]))
    easy_ce = WCELoss(au_weighted=False)(torch.tensor([[4.0]]), torch.tensor([[1]]))
    p = 1 / (1 + math.exp(-4.0))
    assert float(easy) == pytest.approx((1 - p) ** 2 * float(easy_ce), rel=1e-5)


def test_stable_for_extreme_logits() -> None:
    logits = torch.tensor([[120.0, -120.0, 120.0]], requires_grad=True)
    loss = WFLoss(au_weighted=False)(logits, torch.tensor([[0, 1, 1]]))
    loss.backward()
    assert loss.item() == pytest.approx(2 * 120.0 / 3, rel=1e-5)
    assert torch.isfinite(logits.grad).all()


def test_negative_gamma_is_rejected() -> None:
    with pytest.raises(ValueError, match="gamma"):
        WFLoss(gamma=-1.0)
