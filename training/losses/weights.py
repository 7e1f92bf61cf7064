"""Per-AU occurrence rates and class weights (paper Eq. 1).

The weight of AU i is ``w_i = N * (1 / r_i) / sum_j (1 / r_j)``: rare AUs weigh
more, and the weights sum to N so that a weighted mean over AUs keeps the scale
of an unweighted one. Both AUNCE and the WCE/WFL baselines use it.

Example:
    >>> import torch
    >>> labels = torch.tensor([[1, 0], [0, 0], [1, -1], [0, 1]])
    >>> occurrence_rates(labels)
    tensor([0.5000, 0.3333])
    >>> au_class_weights(labels).sum()
    tensor(2.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

# r_i is clamped into [RATE_EPS, 1 - RATE_EPS] before 1 / r_i, so an AU that never
# (or always) occurs in a split or a batch gets a large but finite weight.
RATE_EPS = 1e-3

# The rate given to an AU without a single labelled entry: no evidence either way,
# so it is treated as balanced and neither dominates nor vanishes from the weights.
UNKNOWN_RATE = 0.5


def _as_label_tensor(labels: Any) -> torch.Tensor:
    """Labels (S, N) as a tensor, validated to hold only -1, 0 and 1."""
    t = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if t.ndim != 2:
        raise ValueError(
            f"labels must have shape (S, N) (samples x AUs), got shape {tuple(t.shape)}; "
            "add a leading batch dimension with labels[None] for a single sample"
        )
    bad = ~((t == -1) | (t == 0) | (t == 1))
    if bool(bad.any()):
        found = sorted({float(v) for v in t[bad].flatten()[:5].tolist()})
        raise ValueError(
            f"labels must hold only -1 (not annotated), 0 (absent) and 1 (present); found {found}"
        )
    return t


def occurrence_rates(labels: Any) -> torch.Tensor:
    """Occurrence rate r_i of each AU over the labelled entries.

    Args:
        labels: (S, N) array or tensor in {-1, 0, 1}; -1 (not annotated) is ignored.

    Returns:
        (N,) float32 tensor on the labels' device: r_i = #(y = 1) / #(y != -1). An AU
        without any labelled entry gets ``UNKNOWN_RATE`` (0.5).
    """
    t = _as_label_tensor(labels)
    labelled = (t >= 0).sum(dim=0).to(torch.float32)  # (N,)
    positives = (t == 1).sum(dim=0).to(torch.float32)  # (N,)
    rates = positives / labelled.clamp_min(1.0)
    return torch.where(labelled > 0, rates, torch.full_like(rates, UNKNOWN_RATE))


def weights_from_rates(rates: Any) -> torch.Tensor:
    """Per-AU weights w_i = N (1 / r_i) / sum_j (1 / r_j) from rates r (N,).

    Rates are clamped to ``[RATE_EPS, 1 - RATE_EPS]`` first. Returns a (N,) float32
    tensor that sums to N.
    """
    r = torch.as_tensor(rates, dtype=torch.float32)
    if r.ndim != 1 or r.numel() == 0:
        raise ValueError(f"rates must have shape (N,) with N >= 1, got shape {tuple(r.shape)}")
    if bool(torch.isnan(r).any()):
        raise ValueError("rates contain NaN; compute them with occurrence_rates(labels), which handles masks")
    inv = 1.0 / r.clamp(RATE_EPS, 1.0 - RATE_EPS)  # (N,)
    return inv * (r.numel() / inv.sum())


def au_class_weights(labels: Any) -> torch.Tensor:
    """Per-AU class weights w_i of paper Eq. 1 from a label matrix.

    Args:
        labels: (S, N) array or tensor in {-1, 0, 1}; -1 entries are ignored.

    Returns:
        (N,) float32 tensor, summing to N; ``weights_from_rates(occurrence_rates(labels))``.
    """
    return weights_from_rates(occurrence_rates(labels))
