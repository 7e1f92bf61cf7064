"""Weighted binary cross-entropy over AUs (WCE), the linear-probe loss and a baseline.

Example:
    >>> import torch
    >>> logits = torch.zeros(4, 3)
    >>> labels = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 0, -1], [0, 0, 1]])
    >>> round(float(WCELoss(au_weighted=False)(logits, labels)), 4)  # log 2
    0.6931
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aunce_rt.training.losses._masking import check_logits_labels, masked_weighted_mean, resolve_weights


class WCELoss(nn.Module):
    """Per-AU weighted binary cross-entropy (spec/AUNCE.md, paper Eq. 1 weights).

        L_WCE = -(1 / |V|) sum_{(b, i) in V} w_i [ y log p + (1 - y) log(1 - p) ]

    with p = sigmoid(logit) computed inside ``binary_cross_entropy_with_logits``
    (never log(sigmoid)), and V the labelled (b, i) entries: -1 labels are left out
    of both the sum and the count. Without masked entries |V| = B N, the paper's
    normalisation. A batch with no labelled entry gives 0.

    Args:
        au_weighted: use w_i (paper) or w_i = 1.
    """

    def __init__(self, au_weighted: bool = True) -> None:
        super().__init__()
        self.au_weighted = bool(au_weighted)

    def extra_repr(self) -> str:
        return f"au_weighted={self.au_weighted}"

    def forward(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        au_weights: torch.Tensor | None = None,
        occurrence: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Weighted cross-entropy of one batch.

        Args:
            logits: (B, N) pre-sigmoid scores.
            labels: (B, N) in {-1, 0, 1}.
            au_weights: (N,) w_i (e.g. ``au_class_weights`` of the training split).
                Default: Eq. 1 from ``occurrence`` if given, else from the batch labels.
                Ignored when ``au_weighted`` is False.
            occurrence: (N,) occurrence rates r_i of the training split.

        Returns:
            Scalar float loss.
        """
        check_logits_labels(logits, labels)
        weights = resolve_weights(labels, au_weights, occurrence, self.au_weighted)  # (N,)
        targets = labels.clamp_min(0).to(logits.dtype)  # (B, N), masked entries removed below
        per_entry = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (B, N)
        return masked_weighted_mean(per_entry, labels, weights.to(per_entry.dtype))
