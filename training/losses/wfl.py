"""Weighted focal loss over AUs (WFL), the baseline of the paper's Table 8.

Example:
    >>> import torch
    >>> logits = torch.zeros(2, 2)
    >>> labels = torch.tensor([[1, 0], [0, 1]])
    >>> round(float(WFLoss(au_weighted=False)(logits, labels)), 4)  # 0.25 log 2
    0.1733
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aunce_rt.training.losses._masking import check_logits_labels, masked_weighted_mean, resolve_weights


class WFLoss(nn.Module):
    """Per-AU weighted focal loss (Lin et al. 2017) with the w_i of paper Eq. 1.

        L_WFL = -(1 / |V|) sum_{(b, i) in V} w_i [ y (1-p)^g log p + (1-y) p^g log(1-p) ]

    computed from logits: log p = logsigmoid(x), log(1 - p) = logsigmoid(-x),
    p = sigmoid(x), 1 - p = sigmoid(-x), so it is finite for any finite logit. V is
    the set of labelled entries (-1 left out); without masks |V| = B N. gamma = 0
    gives WCE.

    Args:
        gamma: focusing parameter g >= 0 (paper: 2).
        au_weighted: use w_i (paper) or w_i = 1.
    """

    def __init__(self, gamma: float = 2.0, au_weighted: bool = True) -> None:
        super().__init__()
        if not (isinstance(gamma, int | float) and math.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"gamma must be a finite number >= 0 (paper: 2.0; 0 gives WCE), got {gamma!r}")
        self.gamma = float(gamma)
        self.au_weighted = bool(au_weighted)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, au_weighted={self.au_weighted}"

    def forward(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        au_weights: torch.Tensor | None = None,
        occurrence: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Weighted focal loss of one batch.

        Args:
            logits: (B, N) pre-sigmoid scores.
            labels: (B, N) in {-1, 0, 1}.
            au_weights: (N,) w_i; default from ``occurrence`` or the batch labels;
                ignored when ``au_weighted`` is False.
            occurrence: (N,) occurrence rates r_i of the training split.

        Returns:
            Scalar float loss.
        """
        check_logits_labels(logits, labels)
        weights = resolve_weights(labels, au_weights, occurrence, self.au_weighted)  # (N,)
        y = labels.clamp_min(0).to(logits.dtype)  # (B, N)
        log_p = F.logsigmoid(logits)  # (B, N) log p
        log_q = F.logsigmoid(-logits)  # (B, N) log(1 - p)
        focus_pos = torch.exp(self.gamma * log_q)  # (1 - p)^g
        focus_neg = torch.exp(self.gamma * log_p)  # p^g
        per_entry = -(y * focus_pos * log_p + (1.0 - y) * focus_neg * log_q)  # (B, N)
        return masked_weighted_mean(per_entry, labels, weights.to(per_entry.dtype))
