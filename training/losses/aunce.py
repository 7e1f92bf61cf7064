"""AUNCE: the AU-wise contrastive loss of Shang et al. (Pattern Recognition, 2025/26).

"Learning Contrastive Feature Representations for Facial Action Unit Detection",
paper Eqs. 2-4 and 8-10, as written out in spec/AUNCE.md. The paper is the
contract; the public code's quirks (a "max" positive that is the anchor itself,
a "mean" positive that averages exponentiated similarities, one random draw per
AU shared by all anchors, exp before log) are not reproduced.

Example:
    >>> import torch, torch.nn.functional as F
    >>> z1 = F.normalize(torch.randn(8, 12, 64), dim=-1)
    >>> z2 = F.normalize(torch.randn(8, 12, 64), dim=-1)
    >>> labels = torch.randint(0, 2, (8, 12))
    >>> loss = AUNCELoss()(z1, z2, labels, generator=torch.Generator().manual_seed(0))
    >>> loss.ndim
    0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aunce_rt.training.losses.weights import occurrence_rates, weights_from_rates

# Positive types, in the order of ``probs``.
POS_MAX, POS_VIEW, POS_CENTROID, POS_MIN = 0, 1, 2, 3
MINORITY_MODES = ("rate", "positive")


def anchor_losses(
    pos: torch.Tensor, sim: torch.Tensor, beta: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """Per-anchor AUNCE terms l_a = -pos_a + log(exp(pos_a) + sum_{l in N(a)} exp(beta_a s_al)).

    Evaluated with logsumexp, so it is finite for any finite logits (no exp then
    log). An anchor without negatives gets log(e^pos / e^pos) = 0. Its gradient is
    paper Eq. 7: d l_a / d s_al = beta_a exp(beta_a s_al) / denominator_a on N(a).

    Args:
        pos: (..., A) positive logit of each anchor.
        sim: (..., A, A) scaled similarities s_al.
        beta: (..., A) negative re-weighting factor of each anchor.
        negatives: (..., A, A) bool, True where l is in N(a).

    Returns:
        (..., A) per-anchor losses.
    """
    neg = (beta[..., None] * sim).masked_fill(~negatives, -math.inf)  # (..., A, A) beta_a s_al on N(a)
    logits = torch.cat([pos[..., None], neg], dim=-1)  # (..., A, 1 + A)
    return torch.logsumexp(logits, dim=-1) - pos  # (..., A)


class AUNCELoss(nn.Module):
    """AUNCE loss over the per-AU features of two augmented views of a batch.

    Notation: B images, two views each -> A = 2B anchors (anchor a < B is view 1 of
    image a, anchor a + B its view 2, written a'); N AUs; C feature dimension;
    tau the temperature; s_al^i = <z_a^i, z_l^i> / tau. Labels y in {-1, 0, 1} are
    per image (both views share them); -1 (not annotated) entries are never
    anchors, positives or negatives, so a masked anchor's other view is masked too.

    For each AU i and labelled anchor a:

    - P(a) = {l != a : y_l = y_a} (contains a'), N(a) = {l : y_l != y_a}.
    - M = ``num_positives`` members of P(a) \\ {a'} are drawn at random, independently
      per anchor and per AU (all of them if fewer): the set D(a).
    - The positive logit pos_a is chosen per (anchor, AU) independently with
      probabilities ``probs`` = (p1, p2, p3, p4):
        1. max_{d in D(a)} s_ad                                           (Eq. 8)
        2. s_aa' (the other view)                                         (Eq. 9)
        3. <z_a, c> / tau, c = normalise(mean_{d in D(a)} z_d)            (Eq. 10)
        4. min_{d in D(a)} s_ad
      If P(a) \\ {a'} is empty, type 2 is used.
    - beta_a = ``beta_minority`` if y_a is the minority label of AU i, else
      ``beta_majority``. The minority label is 1 when r_i < 0.5 and 0 otherwise
      (``minority="rate"``), or always 1 (``minority="positive"``, the public code).
    - Per-anchor loss (Eqs. 2-4, computed with logsumexp, never exp then log):
        l_a^i = -pos_a + log( exp(pos_a) + sum_{l in N(a)} exp(beta_a s_al) )
      An anchor without negatives has l_a^i = log(e^pos / e^pos) = 0.
    - Total:  L = (1/N) sum_i w_i * mean_{a labelled} l_a^i, with
      w_i = N (1/r_i) / sum_j (1/r_j) (``au_weighted=False``: w_i = 1). An AU with no
      labelled anchor in the batch contributes 0.

    r_i comes from ``occurrence`` when given (the training split's rates, what the
    paper uses), else from the batch labels; it is clamped to [1e-3, 1 - 1e-3]
    before 1/r_i. By the gradient of Eq. 7, d l / d s_an = beta_a exp(beta_a s_an) /
    denominator: a larger beta concentrates the gradient on hard negatives.

    Everything is vectorised over AUs and anchors on (N, A, A) similarity tensors in
    float32 (autocast is disabled inside); memory is O(N A^2 + N A C).

    Args:
        temperature: tau > 0 (paper: 0.5).
        probs: (p1, p2, p3, p4) of the positive types, non-negative, summing to 1
            (paper's best: (0.15, 0.15, 0.7, 0.0)).
        num_positives: M >= 1, positives drawn per anchor (12 BP4D/BP4D+/Aff-Wild2,
            10 GFT, 8 DISFA).
        beta_minority: beta > 0 for anchors of the minority label (paper: 1.2).
        beta_majority: beta > 0 for anchors of the majority label (paper: 0.4).
        minority: "rate" (paper) or "positive" (public code: label 1 always minority).
        au_weighted: multiply each AU's loss by w_i (paper) or not (public code).
    """

    def __init__(
        self,
        temperature: float = 0.5,
        probs: Sequence[float] = (0.15, 0.15, 0.7, 0.0),
        num_positives: int = 12,
        beta_minority: float = 1.2,
        beta_majority: float = 0.4,
        minority: str = "rate",
        au_weighted: bool = True,
    ) -> None:
        super().__init__()
        if not (isinstance(temperature, int | float) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0 (paper: 0.5), got {temperature!r}")
        probs = tuple(float(p) for p in probs)
        if len(probs) != 4:
            raise ValueError(
                f"probs must hold 4 probabilities (max, other view, centroid, min), got {len(probs)}: {probs}"
            )
        if any(not math.isfinite(p) or p < 0 for p in probs) or abs(sum(probs) - 1.0) > 1e-6:
            raise ValueError(
                f"probs must be non-negative and sum to 1, got {probs} (sum {sum(probs):.6g}); "
                "e.g. the paper's (0.15, 0.15, 0.7, 0.0)"
            )
        if isinstance(num_positives, bool) or not isinstance(num_positives, int) or num_positives < 1:
            raise ValueError(
                f"num_positives must be an integer >= 1 (paper: 12 on BP4D), got {num_positives!r}"
            )
        for name, beta in (("beta_minority", beta_minority), ("beta_majority", beta_majority)):
            if not (isinstance(beta, int | float) and math.isfinite(beta) and beta > 0):
                raise ValueError(f"{name} must be a finite number > 0 (paper: 1.2 and 0.4), got {beta!r}")
        if minority not in MINORITY_MODES:
            raise ValueError(
                f"minority must be one of {MINORITY_MODES} ('rate' is the paper, 'positive' the public code), "
                f"got {minority!r}"
            )
        self.temperature = float(temperature)
        self.probs = probs
        self.num_positives = num_positives
        self.beta_minority = float(beta_minority)
        self.beta_majority = float(beta_majority)
        self.minority = minority
        self.au_weighted = bool(au_weighted)

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, probs={self.probs}, num_positives={self.num_positives}, "
            f"beta_minority={self.beta_minority}, beta_majority={self.beta_majority}, "
            f"minority={self.minority!r}, au_weighted={self.au_weighted}"
        )

    def forward(
        self,
        z1: torch.Tensor,
        z2: torch.Tensor,
        labels: torch.Tensor,
        au_weights: torch.Tensor | None = None,
        occurrence: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """AUNCE loss of one batch.

        Args:
            z1: (B, N, C) L2-normalised per-AU features of the first views.
            z2: (B, N, C) L2-normalised per-AU features of the second views.
            labels: (B, N) integer labels in {-1, 0, 1} (-1 = not annotated).
            au_weights: (N,) w_i; ignored when ``au_weighted`` is False. Default: from
                ``occurrence`` if given, else from the batch labels.
            occurrence: (N,) occurrence rates r_i of the training split, for the
                minority decision and the default weights. Default: batch rates.
            generator: torch.Generator on the features' device, for reproducible draws.

        Returns:
            Scalar float32 loss, differentiable w.r.t. z1 and z2.
        """
        num_images, num_aus = self._check_inputs(z1, z2, labels)
        device = z1.device
        rates = self._rates(labels, occurrence, num_aus, device)  # (N,)
        weights = self._weights(au_weights, rates, num_aus, device)  # (N,)

        with torch.autocast(device_type=device.type, enabled=False):
            # n: AU, a: anchor, l: another sample, c: feature channel, A = 2B.
            z = torch.cat([z1, z2], dim=0).to(torch.float32).transpose(0, 1)  # (N, A, C)
            y = labels.to(device=device, dtype=torch.long).transpose(0, 1).repeat(1, 2)  # (N, A)
            num_anchors = 2 * num_images
            valid = y >= 0  # (N, A)
            pair_valid = valid[:, :, None] & valid[:, None, :]  # (N, A, A)
            same = (y[:, :, None] == y[:, None, :]) & pair_valid  # (N, A, A)
            opposite = (y[:, :, None] != y[:, None, :]) & pair_valid  # (N, A, A) N(a)

            index = torch.arange(num_anchors, device=device)  # (A,)
            partner = (index + num_images) % num_anchors  # (A,) a -> a'
            self_or_view = (index[:, None] == index[None, :]) | (partner[:, None] == index[None, :])  # (A, A)
            pool = same & ~self_or_view  # (N, A, A) P(a) \ {a'}

            sim = torch.einsum("nac,nlc->nal", z, z) / self.temperature  # (N, A, A) s_al

            drawn = self._draw_positives(pool, generator)  # (N, A, A) D(a)
            has_drawn = drawn.any(dim=-1)  # (N, A)

            pos_view = sim.gather(-1, partner.expand(num_aus, -1)[..., None]).squeeze(-1)  # (N, A) s_aa'
            pos_max = sim.masked_fill(~drawn, -math.inf).amax(dim=-1)  # (N, A), -inf without D(a)
            pos_min = sim.masked_fill(~drawn, math.inf).amin(dim=-1)  # (N, A), +inf without D(a)
            count = drawn.sum(dim=-1, keepdim=True).clamp_min(1).to(torch.float32)  # (N, A, 1)
            mean = torch.bmm(drawn.to(torch.float32), z) / count  # (N, A, C) mean of D(a)
            centroid = F.normalize(mean, dim=-1)  # (N, A, C) c
            pos_centroid = (z * centroid).sum(dim=-1) / self.temperature  # (N, A) <z_a, c> / tau

            kind = self._draw_types(num_aus, num_anchors, device, generator)  # (N, A) in {0..3}
            kind = torch.where(has_drawn, kind, torch.full_like(kind, POS_VIEW))  # empty D(a) -> type 2
            candidates = torch.stack([pos_max, pos_view, pos_centroid, pos_min], dim=-1)  # (N, A, 4)
            pos = candidates.gather(-1, kind[..., None]).squeeze(-1)  # (N, A)

            minority_label = self._minority_label(rates)  # (N,)
            beta = torch.where(
                y == minority_label[:, None],
                torch.tensor(self.beta_minority, device=device),
                torch.tensor(self.beta_majority, device=device),
            )  # (N, A) beta_a
            per_anchor = anchor_losses(pos, sim, beta, opposite)  # (N, A) l_a^i
            per_anchor = per_anchor.masked_fill(~valid, 0.0)  # (N, A)
            per_au = per_anchor.sum(dim=-1) / valid.sum(dim=-1).clamp_min(1)  # (N,) mean over labelled
            return (weights * per_au).sum() / num_aus  # ()

    # ------------------------------------------------------------------ helpers
    def _check_inputs(self, z1: torch.Tensor, z2: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
        """Validate shapes and label values; return (B, N)."""
        if z1.ndim != 3 or z1.shape != z2.shape:
            raise ValueError(
                f"z1 and z2 must both have shape (B, N, C) (batch, AUs, channels), got "
                f"{tuple(z1.shape)} and {tuple(z2.shape)}"
            )
        if not (z1.is_floating_point() and z2.is_floating_point()):
            raise ValueError(f"z1 and z2 must be floating point, got {z1.dtype} and {z2.dtype}")
        if z1.device != z2.device:
            raise ValueError(f"z1 and z2 must be on the same device, got {z1.device} and {z2.device}")
        num_images, num_aus, _ = z1.shape
        if num_images < 1 or num_aus < 1:
            raise ValueError(f"need at least one image and one AU, got features of shape {tuple(z1.shape)}")
        if tuple(labels.shape) != (num_images, num_aus):
            raise ValueError(
                f"labels must have shape (B, N) = {(num_images, num_aus)} to match the features, "
                f"got {tuple(labels.shape)}"
            )
        if labels.is_floating_point() and bool((labels != labels.round()).any()):
            raise ValueError("labels must be integers in {-1, 0, 1}; got fractional values")
        if bool(((labels < -1) | (labels > 1)).any()):
            raise ValueError(
                f"labels must be in {{-1, 0, 1}} (-1 = not annotated), got values {labels.unique().tolist()}"
            )
        return num_images, num_aus

    def _rates(
        self, labels: torch.Tensor, occurrence: torch.Tensor | None, num_aus: int, device: torch.device
    ) -> torch.Tensor:
        """r_i (N,) from ``occurrence`` or else from the batch labels."""
        if occurrence is None:
            return occurrence_rates(labels.detach()).to(device)
        rates = torch.as_tensor(occurrence, dtype=torch.float32, device=device)
        if rates.shape != (num_aus,):
            raise ValueError(f"occurrence must have shape (N,) = ({num_aus},), got {tuple(rates.shape)}")
        if bool(((rates < 0) | (rates > 1) | torch.isnan(rates)).any()):
            raise ValueError(f"occurrence rates must be in [0, 1], got {rates.tolist()}")
        return rates

    def _weights(
        self, au_weights: torch.Tensor | None, rates: torch.Tensor, num_aus: int, device: torch.device
    ) -> torch.Tensor:
        """w_i (N,): ones, the given weights, or Eq. 1 from the rates."""
        if not self.au_weighted:
            return torch.ones(num_aus, device=device)
        if au_weights is None:
            return weights_from_rates(rates).to(device)
        weights = torch.as_tensor(au_weights, dtype=torch.float32, device=device)
        if weights.shape != (num_aus,):
            raise ValueError(f"au_weights must have shape (N,) = ({num_aus},), got {tuple(weights.shape)}")
        return weights

    def _minority_label(self, rates: torch.Tensor) -> torch.Tensor:
        """Minority label (N,) of each AU: 1 if r_i < 0.5 else 0, or always 1."""
        if self.minority == "positive":
            return torch.ones_like(rates, dtype=torch.long)
        return (rates < 0.5).to(torch.long)

    def _draw_positives(self, pool: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Draw min(M, |pool|) members of each (AU, anchor) row of ``pool`` (N, A, A) at random.

        Every row gets its own uniform random keys; the M largest keys among the pool
        members win (keys of non-members are pushed below all members), so each row
        is an independent uniform draw without replacement.
        """
        keys = torch.rand(pool.shape, generator=generator, device=pool.device)  # (N, A, A) in [0, 1)
        keys = keys.masked_fill(~pool, -1.0)  # non-members lose against every member
        k = min(self.num_positives, pool.shape[-1])
        top = keys.topk(k, dim=-1).indices  # (N, A, k)
        drawn = torch.zeros_like(pool).scatter_(-1, top, True)  # (N, A, A)
        return drawn & pool  # rows with fewer than M members keep all of them

    def _draw_types(
        self, num_aus: int, num_anchors: int, device: torch.device, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Positive type (N, A) in {0, 1, 2, 3}, drawn per (AU, anchor) with ``probs``."""
        probs = torch.tensor(self.probs, dtype=torch.float32, device=device)
        kind = torch.multinomial(probs, num_aus * num_anchors, replacement=True, generator=generator)
        return kind.view(num_aus, num_anchors)
