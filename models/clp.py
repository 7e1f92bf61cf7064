"""The CLP network, as reconstructed here (spec/CLP.md "Model"): encoder, heads, decoder.

Yong Li and Shiguang Shan, IEEE TIP 32 (2023). The paper's method section was not
available; every layer below is a project decision [D] ("CLP as reconstructed here").

- E: a timm backbone (ResNet-18 by default), global average pool -> f (B, C).
- h_a (AU head): Linear C-512, BN, ReLU, Linear 512-D_a -> r, the AU representation
  the linear probe reads (D_a = 256).
- h_i (identity head): Linear C-D_i, BN, ReLU -> c (D_i = 256).
- g (projection, contrastive only): Linear D_a-D_a, ReLU, Linear D_a-d (d = 128).
- G (decoder): Linear(D_a + D_i -> 512x4x4), then (upsample x2, 3x3 conv, BN, ReLU)
  blocks up to ``recon_size`` (128 = 5 blocks), 3x3 conv to 3 channels, sigmoid.

:class:`CLPEncoder` presents r to the project's linear evaluation (which fits one
weight vector per AU on (B, N, C) features): r repeated for every AU, so the
per-AU probe is exactly one Linear(D_a -> N) on r. It is also the encoder of a
saved CLP model (``encoder_config["arch"] == "clp"``, rebuilt by
:func:`create_clp_encoder`): it keeps the whole network (heads, decoder), so a
model can go on with CLP training on new video (``aunce-rt adapt``), and export
traces only E and h_a.

Example:
    >>> net = CLPNet("resnet18", recon_size=32)
    >>> net.represent(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 256])
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aunce_rt.models._backbones import build_backbone, to_tokens
from aunce_rt.models._weights import load_backbone_weights

__all__ = ["ARCH", "CLPEncoder", "CLPNet", "Decoder", "create_clp_encoder"]

ARCH = "clp"  # encoder_config["arch"] of a saved CLP model


class Decoder(nn.Module):
    """G: (r, c) -> an image in [0, 1], (B, 3, S, S) with S = ``size`` (a power of two >= 8)."""

    def __init__(self, in_dim: int, size: int = 128, width: int = 512) -> None:
        super().__init__()
        blocks = math.log2(size / 4) if size >= 8 else 0.0
        if blocks < 1 or blocks != int(blocks):
            raise ValueError(f"recon_size must be a power of two >= 8 (spec: 128), got {size}")
        self.size, self.width = size, width
        self.fc = nn.Linear(in_dim, width * 16)
        layers: list[nn.Module] = []
        channels = width
        for _ in range(int(blocks)):
            out = max(channels // 2, 32)
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(channels, out, 3, padding=1),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        layers += [nn.Conv2d(channels, 3, 3, padding=1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Decode (N, D_a) AU codes with (N, D_i) identity codes to (N, 3, S, S) images in [0, 1]."""
        x = self.fc(torch.cat([r, c], dim=-1)).view(-1, self.width, 4, 4)  # (N, 512, 4, 4)
        return self.net(x)


class CLPNet(nn.Module):
    """E, h_a, h_i, g and G of CLP as reconstructed here (see the module doc).

    Inputs of :meth:`features` are ImageNet-normalised RGB images (B, 3, H, W).

    Args:
        backbone: a registered backbone name (``aunce_rt.models.list_backbones``).
        au_dim: D_a (spec: 256).
        id_dim: D_i (spec: 256).
        proj_dim: d (spec: 128).
        recon_size: side of the decoded images (spec: 128).
        init_weights: a backbone state dict (or ImageNet TFLite file, see ``create_encoder``)
            E starts from; None: random. Not part of ``config``: a saved model's weights
            carry it.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        *,
        au_dim: int = 256,
        id_dim: int = 256,
        proj_dim: int = 128,
        recon_size: int = 128,
        init_weights: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.backbone, self.spec = build_backbone(backbone)
        if init_weights:
            load_backbone_weights(self.backbone, self.spec, init_weights)
        width = self.spec.width
        self.au_dim, self.id_dim, self.proj_dim = au_dim, id_dim, proj_dim
        self.config: dict[str, Any] = {
            "backbone": backbone,
            "au_dim": au_dim,
            "id_dim": id_dim,
            "proj_dim": proj_dim,
            "recon_size": recon_size,
        }
        self.au_head = nn.Sequential(
            nn.Linear(width, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True), nn.Linear(512, au_dim)
        )
        self.id_head = nn.Sequential(nn.Linear(width, id_dim), nn.BatchNorm1d(id_dim), nn.ReLU(inplace=True))
        self.projector = nn.Sequential(
            nn.Linear(au_dim, au_dim), nn.ReLU(inplace=True), nn.Linear(au_dim, proj_dim)
        )
        self.decoder = Decoder(au_dim + id_dim, recon_size)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items())

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """f = E(x): (B, 3, H, W) normalised images -> (B, C) globally average-pooled features."""
        return to_tokens(self.backbone.forward_features(x), self.spec.layout).mean(dim=1)  # (B, C)

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        """r = h_a(E(x)): (B, 3, H, W) -> (B, D_a), the AU representation."""
        return self.au_head(self.pooled(x))

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(r (B, D_a), c (B, D_i)) of (B, 3, H, W) normalised images, one pass through E."""
        f = self.pooled(x)  # (B, C)
        return self.au_head(f), self.id_head(f)


PROBE_FEATURES = ("r", "f")


class CLPEncoder(nn.Module):
    """r of a :class:`CLPNet` as (B, N, D_a) per-AU features (the same r for every AU).

    Linear evaluation fits logit_i = <W_i, z_i> + b_i; with z_i = r for every AU this
    is one Linear(D_a -> N) on r (spec/CLP.md "Evaluation"). r is not normalised.
    ``feature="f"`` gives the backbone's pooled feature f = E(x) (B, N, C) instead (the
    spec asks for both to be reported: ambiguity 10).

    Attributes (those of ``AUEncoder`` that checkpoints and export read):
        net: the whole CLP network.
        num_aus: N.
        node_dim: D_a.
        backbone_name: E's registered name.
        spec: E's registry entry.
        input_norm: "none" (ImageNet normalisation only, as in CLP training).
        config: keyword arguments of :func:`create_clp_encoder`, with ``arch="clp"``.

    Example:
        >>> enc = create_clp_encoder(backbone="resnet10t", num_aus=5, recon_size=8).eval()
        >>> enc(torch.randn(2, 3, 64, 64)).shape
        torch.Size([2, 5, 256])
    """

    def __init__(self, net: CLPNet, num_aus: int, feature: str = "r") -> None:
        super().__init__()
        if num_aus < 1:
            raise ValueError(f"num_aus must be at least 1; got {num_aus}")
        if feature not in PROBE_FEATURES:
            raise ValueError(
                f"feature must be 'r' (the AU code) or 'f' (E's pooled feature); got {feature!r}"
            )
        self.net = net
        self.num_aus = num_aus
        self.feature = feature
        self.node_dim = net.au_dim if feature == "r" else net.spec.width
        self.backbone_name = str(net.config["backbone"])
        self.spec = net.spec
        self.input_norm = "none"
        self.config: dict[str, Any] = {"arch": ARCH, "num_aus": num_aus, **net.config}
        if feature != "r":  # r models keep the config they always had
            self.config["feature"] = feature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) ImageNet-normalised images -> (B, N, D) copies of r (D_a) or f (C)."""
        z = self.net.represent(x) if self.feature == "r" else self.net.pooled(x)  # (B, D)
        return z[:, None, :].expand(-1, self.num_aus, -1)


def create_clp_encoder(
    *,
    backbone: str,
    num_aus: int,
    au_dim: int = 256,
    id_dim: int = 256,
    proj_dim: int = 128,
    recon_size: int = 128,
    arch: str = ARCH,
    feature: str = "r",
) -> CLPEncoder:
    """Rebuild a :class:`CLPEncoder` (random weights) from its ``config``."""
    if arch != ARCH:
        raise ValueError(f"create_clp_encoder builds arch {ARCH!r}; got {arch!r}")
    net = CLPNet(backbone, au_dim=au_dim, id_dim=id_dim, proj_dim=proj_dim, recon_size=recon_size)
    return CLPEncoder(net, num_aus, feature)
