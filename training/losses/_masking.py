"""Shared plumbing of the per-AU binary losses: input checks, weights, masked mean."""

from __future__ import annotations

import torch

from aunce_rt.training.losses.weights import occurrence_rates, weights_from_rates


def check_logits_labels(logits: torch.Tensor, labels: torch.Tensor) -> None:
    """Raise ValueError unless logits (B, N) float and labels (B, N) in {-1, 0, 1}."""
    if logits.ndim != 2 or tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(
            f"logits and labels must both have shape (B, N) (batch, AUs), got "
            f"{tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    if not logits.is_floating_point():
        raise ValueError(f"logits must be floating point (pre-sigmoid scores), got {logits.dtype}")
    if bool(((labels != -1) & (labels != 0) & (labels != 1)).any()):
        raise ValueError(
            f"labels must be in {{-1, 0, 1}} (-1 = not annotated), got values {labels.unique().tolist()}"
        )


def resolve_weights(
    labels: torch.Tensor,
    au_weights: torch.Tensor | None,
    occurrence: torch.Tensor | None,
    au_weighted: bool,
) -> torch.Tensor:
    """w_i (N,): ones, the given weights, Eq. 1 from ``occurrence``, or Eq. 1 from the batch."""
    num_aus = labels.shape[1]
    device = labels.device
    if not au_weighted:
        return torch.ones(num_aus, device=device)
    if au_weights is not None:
        weights = torch.as_tensor(au_weights, dtype=torch.float32, device=device)
        if weights.shape != (num_aus,):
            raise ValueError(f"au_weights must have shape (N,) = ({num_aus},), got {tuple(weights.shape)}")
        return weights
    if occurrence is not None:
        rates = torch.as_tensor(occurrence, dtype=torch.float32, device=device)
        if rates.shape != (num_aus,):
            raise ValueError(f"occurrence must have shape (N,) = ({num_aus},), got {tuple(rates.shape)}")
        return weights_from_rates(rates).to(device)
    return weights_from_rates(occurrence_rates(labels.detach())).to(device)


def masked_weighted_mean(
    per_entry: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """(1 / #labelled) sum_{b,i labelled} w_i per_entry[b, i]; 0 when nothing is labelled.

    Args:
        per_entry: (B, N) unweighted per-entry losses.
        labels: (B, N) in {-1, 0, 1}; -1 entries are left out of sum and count.
        weights: (N,) w_i.

    Returns:
        Scalar; with no -1 entry this is (1 / (B N)) sum_b sum_i w_i per_entry[b, i].
    """
    valid = labels >= 0  # (B, N)
    weighted = (per_entry * weights[None, :]).masked_fill(~valid, 0.0)  # (B, N)
    return weighted.sum() / valid.sum().clamp_min(1)
