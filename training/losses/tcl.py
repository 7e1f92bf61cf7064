"""TCL: the margin-based temporal contrastive loss of CLP, as reconstructed here.

Yong Li and Shiguang Shan, "Contrastive Learning of Person-independent
Representations for Facial Action Unit Detection", IEEE TIP 32 (2023). The paper's
method section was not available: this is "CLP as reconstructed here", the loss of
spec/CLP.md ("TCL loss"), every formula a project decision [D].

Notation: B clips of T frames; q (B, T, d) L2-normalised queries of the first view,
k (B, T, d) L2-normalised momentum keys of the second view, Q (K, d) the queue of
earlier keys; tau the temperature; m the margin (cosine units). For the anchor (b, t):

- positive  s+  = q_bt . k_bt - m_pos
- in-clip   s_j = q_bt . k_bj + m_tj      for the T - 1 frames j != t
- queue     s_n = q_bt . Q_n              n = 1..K

    l(b, t) = -log( e^{s+/tau} / (e^{s+/tau} + sum_j e^{s_j/tau} + sum_n e^{s_n/tau}) )

L = mean over the B*T anchors, computed as cross-entropy over the (B*T, 1 + (T-1) + K)
logit matrix with target 0 (log-space, never exp then log). Option ``batch_negatives``
(spec ambiguity 3; off by default): the keys of the other clips of the batch are negatives
too, ``s_b'j = q_bt . k_b'j`` for every b' != b and every j, without margin, which adds
(B-1)*T columns before the queue's. Margin modes:

- "temporal" (default): m_pos = 0, m_tj = m |t - j| / (T - 1): far frames must be
  pushed further than neighbours (evolution), neighbours least (coherence).
- "positive": m_pos = m, m_tj = 0 (additive-margin InfoNCE).
- "none": plain MoCo InfoNCE with in-clip negatives (also the AU-consistency loss
  L_xid of cross-identity reconstruction).

Example:
    >>> import torch, torch.nn.functional as F
    >>> q = F.normalize(torch.randn(2, 4, 16), dim=-1)
    >>> k = F.normalize(torch.randn(2, 4, 16), dim=-1)
    >>> queue = F.normalize(torch.randn(32, 16), dim=-1)
    >>> TemporalContrastiveLoss()(q, k, queue).ndim
    0
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MARGIN_MODES", "KeyQueue", "TemporalContrastiveLoss", "clip_logits", "in_clip_margins"]

MARGIN_MODES = ("temporal", "positive", "none")


def in_clip_margins(num_frames: int, margin: float, mode: str) -> torch.Tensor:
    """The margins m_tj (T, T) added to the in-clip logits (the diagonal is unused).

    Example:
        >>> in_clip_margins(3, 0.1, "temporal")[0].tolist()
        [0.0, 0.05000000074505806, 0.10000000149011612]
    """
    index = torch.arange(num_frames, dtype=torch.float32)
    if mode != "temporal" or num_frames < 2:
        return torch.zeros(num_frames, num_frames)
    return margin * (index[:, None] - index[None, :]).abs() / (num_frames - 1)  # (T, T)


def clip_logits(
    q: torch.Tensor,
    k: torch.Tensor,
    queue: torch.Tensor,
    *,
    margin: float,
    mode: str,
    batch_negatives: bool = False,
) -> torch.Tensor:
    """The TCL logit matrix before the temperature: column 0 the positive.

    Args:
        q: (B, T, d) normalised queries.
        k: (B, T, d) normalised keys (no gradient is needed through them).
        queue: (K, d) normalised queue keys (K may be 0).
        margin: m >= 0.
        mode: one of :data:`MARGIN_MODES`.
        batch_negatives: also the keys of the batch's other clips as negatives.

    Returns:
        (B*T, 1 + (T-1) [+ (B-1)*T] + K) logits: [s+, s_j for j != t in increasing j,
        (with ``batch_negatives``) s_b'j for the other clips' keys in batch order, s_n].
    """
    b, t, d = q.shape
    sim = torch.einsum("btd,bjd->btj", q, k)  # (B, T, T) q_bt . k_bj
    pos = sim.diagonal(dim1=1, dim2=2)  # (B, T) q_bt . k_bt
    if mode == "positive":
        pos = pos - margin
    margins = in_clip_margins(t, margin, mode).to(sim)  # (T, T)
    # others[t] lists the T-1 frames j != t in increasing order.
    others = torch.arange(t, device=q.device).expand(t, t)  # (T, T) j
    others = others[~torch.eye(t, dtype=torch.bool, device=q.device)].view(t, t - 1)  # (T, T-1)
    clip = (sim + margins).gather(-1, others.expand(b, t, t - 1))  # (B, T, T-1) s_j
    bank = q.reshape(b * t, d) @ queue.T  # (B*T, K) s_n
    parts = [pos.reshape(b * t, 1), clip.reshape(b * t, t - 1)]
    if batch_negatives and b > 1:
        full = q.reshape(b * t, d) @ k.reshape(b * t, d).T  # (B*T, B*T) q_bt . k_b'j
        owner = torch.arange(b, device=q.device).repeat_interleave(t)  # (B*T,) clip of each row/column
        cols = torch.arange(b * t, device=q.device).expand(b * t, b * t)
        cols = cols[owner[:, None] != owner[None, :]].view(b * t, (b - 1) * t)  # other clips' columns
        parts.append(full.gather(1, cols))  # (B*T, (B-1)*T)
    return torch.cat([*parts, bank], dim=1)


class TemporalContrastiveLoss(nn.Module):
    """Margin-based temporal contrastive loss (TCL) of CLP as reconstructed here; see the module doc.

    Args:
        temperature: tau > 0 (spec: 0.07).
        margin: m >= 0 in cosine units (spec: 0.1).
        mode: "temporal" (default), "positive" or "none".
        batch_negatives: the batch's other clips' keys are negatives too (spec option; off).
    """

    def __init__(
        self,
        temperature: float = 0.07,
        margin: float = 0.1,
        mode: str = "temporal",
        batch_negatives: bool = False,
    ) -> None:
        super().__init__()
        if not (isinstance(temperature, int | float) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0 (spec: 0.07), got {temperature!r}")
        if not (isinstance(margin, int | float) and math.isfinite(margin) and margin >= 0):
            raise ValueError(f"margin must be a finite number >= 0 (spec: 0.1), got {margin!r}")
        if mode not in MARGIN_MODES:
            raise ValueError(f"mode must be one of {MARGIN_MODES} (spec default 'temporal'), got {mode!r}")
        self.temperature = float(temperature)
        self.margin = float(margin)
        self.mode = mode
        self.batch_negatives = bool(batch_negatives)

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, margin={self.margin}, mode={self.mode!r}, "
            f"batch_negatives={self.batch_negatives}"
        )

    def forward(self, q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor) -> torch.Tensor:
        """TCL of one batch.

        Args:
            q: (B, T, d) L2-normalised queries (gradient flows through them).
            k: (B, T, d) L2-normalised keys of the same frames' other view.
            queue: (K, d) L2-normalised queue; it must not hold this batch's keys.

        Returns:
            Scalar float32 loss, the mean over the B*T anchors.
        """
        if q.ndim != 3 or q.shape != k.shape:
            raise ValueError(
                f"q and k must both have shape (B, T, d), got {tuple(q.shape)} and {tuple(k.shape)}"
            )
        if queue.ndim != 2 or queue.shape[1] != q.shape[2]:
            raise ValueError(f"queue must have shape (K, d={q.shape[2]}), got {tuple(queue.shape)}")
        with torch.autocast(device_type=q.device.type, enabled=False):
            logits = clip_logits(
                q.float(),
                k.float(),
                queue.float(),
                margin=self.margin,
                mode=self.mode,
                batch_negatives=self.batch_negatives,
            )  # (B*T, 1 + (T-1) [+ (B-1)*T] + K)
            target = torch.zeros(logits.shape[0], dtype=torch.long, device=q.device)  # (B*T,) the positive
            return F.cross_entropy(logits / self.temperature, target)


class KeyQueue(nn.Module):
    """The MoCo dictionary Q (K, d): a ring buffer of L2-normalised momentum keys.

    Starts with random unit vectors (as MoCo); :meth:`push` overwrites the oldest
    entries. It is a buffer, so it travels in the model's state dict (resume).

    Args:
        size: K >= 0 (spec: 16384; 0 = in-clip negatives only).
        dim: d, the key width.
        generator: RNG of the random initial keys.
    """

    def __init__(self, size: int, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if size < 0 or dim < 1:
            raise ValueError(f"the queue needs size >= 0 and dim >= 1, got size={size}, dim={dim}")
        self.register_buffer("keys", F.normalize(torch.randn(size, dim, generator=generator), dim=-1))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return f"size={self.keys.shape[0]}, dim={self.keys.shape[1]}"

    @torch.no_grad()
    def push(self, keys: torch.Tensor) -> None:
        """Enqueue ``keys`` (M, d) over the oldest entries (after the loss of their batch)."""
        size = self.keys.shape[0]
        if size == 0:
            return
        keys = keys.detach().reshape(-1, self.keys.shape[1]).to(self.keys)[-size:]  # (M', d), M' <= K
        rows = (self.pointer + torch.arange(keys.shape[0], device=self.keys.device)) % size  # (M',)
        self.keys[rows] = keys
        self.pointer.copy_((self.pointer + keys.shape[0]) % size)
