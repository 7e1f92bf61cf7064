"""The CLP pretraining objective, as reconstructed here: network, momentum encoder, queue, losses.

Yong Li and Shiguang Shan, IEEE TIP 32 (2023); spec/CLP.md. The paper's method
section was not available: this is "CLP as reconstructed here".

:class:`CLPObjective` is the module a ``loss="clp"`` run trains (``TrainState.model``):
its forward takes a batch of clips and returns the loss terms, so the project's one
training step (``aunce_rt.training.step.train_step``) drives it like any other loss.
It holds:

- ``net``: the online :class:`~aunce_rt.models.clp.CLPNet` (E, h_a, h_i, g, G);
- ``key_*``: momentum copies of E, h_a and g (EMA with ``momentum``, updated at the
  start of every training forward, as MoCo; never trained by the optimiser);
- ``queue``: the :class:`~aunce_rt.training.losses.tcl.KeyQueue`; all B*T keys are
  enqueued AFTER the losses, so no key of the current batch is a queue negative. Under
  DDP (torchrun) the keys of every process are gathered first (MoCo's
  ``concat_all_gather``): the queues of all processes stay identical and hold the
  global batch's keys; the losses use each process's own anchors, as MoCo's do.

Shuffle-BN emulation (ambiguity 12): the keys are computed in ``key_groups``
sub-batches of a random permutation of the B*T frames, so a query and its key never
share BatchNorm statistics of the same sub-batch composition.

Objective: L = L_TCL + lambda_x L_xid + lambda_r (L_rec + L_cyc).

Example:
    >>> obj = CLPObjective(CLPNet("resnet18", recon_size=16), queue_size=64)      # doctest: +SKIP
    >>> terms = obj(v1, v2, ids)   # v1, v2 (B, T, 3, H, W) in [0, 1], ids (B,)  # doctest: +SKIP
    >>> terms.total.backward()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aunce_rt.metadata import IMAGENET_MEAN, IMAGENET_STD
from aunce_rt.models.clp import CLPNet
from aunce_rt.training.distributed import all_gather_with_grad
from aunce_rt.training.losses.cir import CrossIdentityLoss, pair_other_identity
from aunce_rt.training.losses.tcl import KeyQueue, TemporalContrastiveLoss

__all__ = ["CIR_POSITIVES", "CLPObjective", "CLPTerms"]

CIR_POSITIVES = ("key", "reconstruction")


@dataclass(frozen=True)
class CLPTerms:
    """The loss terms of one batch (scalars); ``cir`` is False when the batch had one identity."""

    total: torch.Tensor
    tcl: torch.Tensor
    xid: torch.Tensor
    rec: torch.Tensor
    cyc: torch.Tensor
    cir: bool


class CLPObjective(nn.Module):
    """CLP pretraining as reconstructed here; see the module doc.

    Args:
        net: the online network.
        temperature: tau (spec: 0.07).
        margin: m (spec: 0.1).
        margin_mode: "temporal", "positive" or "none".
        queue_size: K (spec: 16384).
        momentum: mu of the key encoder's EMA (spec: 0.999).
        lambda_x: weight of L_xid (spec: 1).
        lambda_r: weight of L_rec + L_cyc (spec: 1).
        cir: False trains TCL alone (the ablation).
        cir_positive: "key" (k_bt, default) or "reconstruction" (the key of xhat).
        key_groups: sub-batches of the shuffle-BN emulation (spec: 4).
        batch_negatives: the batch's other clips' keys are TCL negatives too (spec option; off).
    """

    def __init__(
        self,
        net: CLPNet,
        *,
        temperature: float = 0.07,
        margin: float = 0.1,
        margin_mode: str = "temporal",
        queue_size: int = 16384,
        momentum: float = 0.999,
        lambda_x: float = 1.0,
        lambda_r: float = 1.0,
        cir: bool = True,
        cir_positive: str = "key",
        key_groups: int = 4,
        batch_negatives: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1) (spec: 0.999), got {momentum!r}")
        if cir_positive not in CIR_POSITIVES:
            raise ValueError(f"cir_positive must be one of {CIR_POSITIVES}, got {cir_positive!r}")
        if key_groups < 1 or lambda_x < 0 or lambda_r < 0:
            raise ValueError(
                f"need key_groups >= 1 and lambda_x, lambda_r >= 0; got {key_groups}, {lambda_x}, {lambda_r}"
            )
        self.net = net
        self.key_backbone = copy.deepcopy(net.backbone)
        self.key_au_head = copy.deepcopy(net.au_head)
        self.key_projector = copy.deepcopy(net.projector)
        for p in self._key_parameters():
            p.requires_grad_(False)
        self.queue = KeyQueue(queue_size, net.proj_dim)
        self.tcl = TemporalContrastiveLoss(temperature, margin, margin_mode, batch_negatives)
        self.cir_loss = CrossIdentityLoss(temperature)
        self.momentum, self.lambda_x, self.lambda_r = float(momentum), float(lambda_x), float(lambda_r)
        self.cir, self.cir_positive, self.key_groups = bool(cir), cir_positive, int(key_groups)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(3, 1, 1), persistent=False)
        self._term_sums: dict[str, Any] = {}  # training batches' terms (0-d tensors) since the last pop
        self._term_batches = 0

    def _key_parameters(self) -> list[nn.Parameter]:
        return [
            *self.key_backbone.parameters(),
            *self.key_au_head.parameters(),
            *self.key_projector.parameters(),
        ]

    def _online_parameters(self) -> list[nn.Parameter]:
        return [
            *self.net.backbone.parameters(),
            *self.net.au_head.parameters(),
            *self.net.projector.parameters(),
        ]

    @torch.no_grad()
    def momentum_update(self) -> None:
        """theta_k <- mu theta_k + (1 - mu) theta_q for E', h_a', g'."""
        for k, q in zip(self._key_parameters(), self._online_parameters(), strict=True):
            k.mul_(self.momentum).add_(q.detach(), alpha=1.0 - self.momentum)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """(..., 3, H, W) images in [0, 1] -> ImageNet-normalised."""
        return (x - self.mean) / self.std

    @torch.no_grad()
    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """Momentum keys normalise(g'(h_a'(E'(x)))) of (N, 3, H, W) images in [0, 1] -> (N, d).

        In training mode the N frames are shuffled and encoded in ``key_groups``
        sub-batches (shuffle-BN emulation), then put back in order.
        """
        groups = min(self.key_groups, x.shape[0]) if self.training else 1
        order = torch.randperm(x.shape[0], device=x.device) if groups > 1 else None
        xs = self.normalise(x if order is None else x[order])
        out = []
        for chunk in xs.chunk(groups):
            f = to_pooled(self.key_backbone, self.net, chunk)  # (n, C)
            out.append(F.normalize(self.key_projector(self.key_au_head(f)), dim=-1))
        k = torch.cat(out)  # (N, d) in shuffled order
        if order is not None:
            k = torch.empty_like(k).index_copy_(0, order, k)  # back to the input order
        return k

    def forward(self, v1: torch.Tensor, v2: torch.Tensor, ids: torch.Tensor) -> CLPTerms:
        """Loss terms of a batch of clips.

        Args:
            v1: (B, T, 3, H, W) first views in [0, 1] (one augmentation per clip).
            v2: (B, T, 3, H, W) second views in [0, 1] (an independent draw).
            ids: (B,) identity of each clip (speaker, else video).
        """
        if v1.ndim != 5 or v1.shape != v2.shape or ids.shape != v1.shape[:1]:
            raise ValueError(
                f"expected v1, v2 (B, T, 3, H, W) and ids (B,), got {tuple(v1.shape)}, "
                f"{tuple(v2.shape)}, {tuple(ids.shape)}"
            )
        b, t, _, h, w = v1.shape
        if self.training:
            self.momentum_update()
        k = self.keys(v2.reshape(b * t, 3, h, w)).view(b, t, -1)  # (B, T, d)
        r, c = self.net.features(self.normalise(v1.reshape(b * t, 3, h, w)))  # (B*T, D_a), (B*T, D_i)
        q = F.normalize(self.net.projector(r), dim=-1).view(b, t, -1)  # (B, T, d)
        queue = self.queue.keys.clone()  # (K, d) without this batch's keys
        tcl = self.tcl(q, k, queue)
        zero = tcl.new_zeros(())
        xid = rec = cyc = zero
        use_cir = self.cir and bool((ids != ids[0]).any())
        if use_cir:
            size = self.net.decoder.size
            y = F.interpolate(
                v1.reshape(b * t, 3, h, w), size=(size, size), mode="bilinear", align_corners=False
            )
            terms = self.cir_loss(
                r.view(b, t, -1),
                c.view(b, t, -1),
                y.view(b, t, 3, size, size),
                pair_other_identity(ids),
                decoder=self.net.decoder,
                reencode=lambda img: self.net.represent(self.normalise(self._upsample(img, h, w))),
                project=self.net.projector,
                positives=k if self.cir_positive == "key" else self._reconstruction_keys(h, w),
                queue=queue,
            )
            xid, rec, cyc = terms.xid, terms.rec, terms.cyc
        # after the losses; under DDP every process enqueues every process's keys (MoCo's
        # concat_all_gather), so the queues stay identical and hold the global batch
        self.queue.push(all_gather_with_grad(k.reshape(b * t, -1)) if self.training else k.reshape(b * t, -1))
        total = tcl + self.lambda_x * xid + self.lambda_r * (rec + cyc)
        if self.training:
            # detached tensors, summed on the device: no host sync per step (read once per epoch)
            values = {"tcl": tcl, "xid": xid, "rec": rec, "cyc": cyc, "cir_batches": zero + float(use_cir)}
            for name, value in values.items():
                self._term_sums[name] = self._term_sums.get(name, 0.0) + value.detach().float()
            self._term_batches += 1
        return CLPTerms(total, tcl, xid, rec, cyc, use_cir)

    def pop_term_means(self) -> dict[str, float]:
        """Mean of each loss term (tcl, xid, rec, cyc; cir_batches: the share of batches with CIR)
        over the training batches since the last call, then start again; {} when there were none."""
        n, sums = self._term_batches, self._term_sums
        self._term_sums, self._term_batches = {}, 0
        return {k: float(v) / n for k, v in sums.items()} if n else {}

    def _reconstruction_keys(self, h: int, w: int) -> Callable[[torch.Tensor], torch.Tensor]:
        def keys_of(xhat: torch.Tensor) -> torch.Tensor:
            b, t = xhat.shape[:2]
            return self.keys(self._upsample(xhat.flatten(0, 1), h, w)).view(b, t, -1)

        return keys_of

    @staticmethod
    def _upsample(img: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return F.interpolate(img, size=(h, w), mode="bilinear", align_corners=False)


def to_pooled(backbone: nn.Module, net: CLPNet, x: torch.Tensor) -> torch.Tensor:
    """Globally pooled features (N, C) of ``backbone`` (a copy of ``net``'s) on normalised images."""
    from aunce_rt.models._backbones import to_tokens

    return to_tokens(backbone.forward_features(x), net.spec.layout).mean(dim=1)
