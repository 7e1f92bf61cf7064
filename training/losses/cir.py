"""CIR: the cross-identity reconstruction losses of CLP, as reconstructed here.

Yong Li and Shiguang Shan, IEEE TIP 32 (2023); spec/CLP.md "CIR losses". The paper's
method section was not available; every formula is a project decision [D]
("CLP as reconstructed here").

Notation: B clips of T frames; r (B, T, D_a) AU codes and c (B, T, D_i) identity
codes of the query view; y (B, T, 3, S, S) the query view before normalisation,
in [0, 1], at the decoder's size S; G the decoder; ``reencode`` maps decoded images
(N, 3, S, S) to AU codes h_a(E(.)) (N, D_a) (upsampled and normalised on the way).

- pairing: each clip b gets a partner pi(b) of ANOTHER identity, drawn uniformly
  among the batch's clips of other identities (a map, not necessarily a
  permutation, so one exists whenever the batch holds two identities).
- clip identity code  cbar_b = mean_t c_bt                               (B, D_i)
- self reconstruction xhat_bt = G(r_bt, cbar_b);   L_rec = mean |xhat - y|_1
- swap               xt_bt   = G(r_bt, cbar_pi(b)); rt = reencode(xt)
- cycle              L_cyc = mean |G(rt_bt, cbar_b) - y_bt|_1
- AU consistency     L_xid = TCL with query normalise(g(rt'_bt)), the given
  positives, the same in-clip and queue negatives, no margin; rt' = reencode of
  xt DETACHED from G (stop-gradient: G cannot hide codes in xt for E to read).

Example:
    >>> ids = torch.tensor([0, 0, 1, 2])
    >>> bool((ids[pair_other_identity(ids)] != ids).all())
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aunce_rt.training.losses.tcl import TemporalContrastiveLoss

__all__ = ["CIRTerms", "CrossIdentityLoss", "pair_other_identity"]


def pair_other_identity(ids: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """pi (B,): for each clip, a uniformly drawn clip of another identity.

    Args:
        ids: (B,) integer identity of each clip (speaker, else video).
        generator: RNG of the draw (CPU).

    Raises:
        ValueError: the batch holds a single identity (no partner exists).
    """
    ids = ids.reshape(-1).cpu()
    other = ids[:, None] != ids[None, :]  # (B, B) allowed partners
    if not bool(other.any(dim=1).all()):
        raise ValueError(
            f"cross-identity pairing needs at least two identities in the batch, got ids {ids.unique().tolist()}; "
            "use more clips per batch or data with more people"
        )
    keys = torch.rand(other.shape, generator=generator).masked_fill(~other, -1.0)  # (B, B)
    return keys.argmax(dim=1)  # (B,) the uniformly drawn allowed partner


@dataclass(frozen=True)
class CIRTerms:
    """The three CIR losses (scalars) and the decoded images (for inspection).

    Attributes:
        rec: L_rec, self reconstruction L1.
        cyc: L_cyc, cycle reconstruction L1.
        xid: L_xid, AU consistency of the swapped faces (TCL, no margin).
        xhat: (B, T, 3, S, S) self reconstructions (detached).
        swapped: (B, T, 3, S, S) swapped-identity faces xt (detached).
    """

    rec: torch.Tensor
    cyc: torch.Tensor
    xid: torch.Tensor
    xhat: torch.Tensor
    swapped: torch.Tensor


class CrossIdentityLoss(nn.Module):
    """L_rec, L_cyc and L_xid of CLP as reconstructed here; see the module doc.

    Args:
        temperature: tau of L_xid (spec: 0.07, as TCL).
    """

    def __init__(self, temperature: float = 0.07) -> None:
        super().__init__()
        self.xid_loss = TemporalContrastiveLoss(temperature, margin=0.0, mode="none")

    def forward(
        self,
        r: torch.Tensor,
        c: torch.Tensor,
        y: torch.Tensor,
        partner: torch.Tensor,
        *,
        decoder: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        reencode: Callable[[torch.Tensor], torch.Tensor],
        project: Callable[[torch.Tensor], torch.Tensor],
        positives: torch.Tensor | Callable[[torch.Tensor], torch.Tensor],
        queue: torch.Tensor,
    ) -> CIRTerms:
        """The CIR losses of one batch.

        Args:
            r: (B, T, D_a) AU codes of the query view.
            c: (B, T, D_i) identity codes of the query view.
            y: (B, T, 3, S, S) reconstruction targets in [0, 1].
            partner: (B,) pi, from :func:`pair_other_identity`.
            decoder: G, ((N, D_a), (N, D_i)) -> (N, 3, S, S).
            reencode: (N, 3, S, S) decoded images -> (N, D_a) AU codes h_a(E(.)).
            project: g, (N, D_a) -> (N, d) (normalised here).
            positives: (B, T, d) normalised positive keys of L_xid (k_bt), or a
                function of the detached self reconstructions (B, T, 3, S, S) that
                returns them (option cir_positive = "reconstruction").
            queue: (K, d) normalised queue (without this batch's keys).
        """
        b, t, _ = r.shape
        s = y.shape[-1]
        cbar = c.mean(dim=1)  # (B, D_i) clip identity code
        own = cbar[:, None].expand(b, t, -1).reshape(b * t, -1)  # (B*T, D_i) cbar_b per frame
        other = cbar[partner][:, None].expand(b, t, -1).reshape(b * t, -1)  # (B*T, D_i) cbar_pi(b)
        codes = r.reshape(b * t, -1)  # (B*T, D_a)
        target = y.reshape(b * t, 3, s, s)  # (B*T, 3, S, S)

        xhat = decoder(codes, own)  # (B*T, 3, S, S)
        rec = (xhat - target).abs().mean()
        xt = decoder(codes, other)  # (B*T, 3, S, S) person pi(b) showing frame (b, t)'s AUs
        rt_both = reencode(torch.cat([xt, xt.detach()]))  # (2*B*T, D_a)
        rt, rt_stopped = rt_both[: b * t], rt_both[b * t :]  # (B*T, D_a) each
        cyc = (decoder(rt, own) - target).abs().mean()
        q = F.normalize(project(rt_stopped), dim=-1).view(b, t, -1)  # (B, T, d)
        xhat_clips = xhat.detach().view(b, t, 3, s, s)
        k = positives(xhat_clips) if callable(positives) else positives  # (B, T, d)
        xid = self.xid_loss(q, k, queue)
        return CIRTerms(rec, cyc, xid, xhat_clips, xt.detach().view(b, t, 3, s, s))
