"""The AU encoder: ME-GraphAU's stage-1 network ("MEFARG") over a timm backbone.

    image (B, 3, H, W) -> [per-image standardisation, optional]
      -> backbone tokens (B, T, D)
      -> global LinearBlock (per token)               (B, T, D')
      -> one LinearBlock per AU, mean over tokens     (B, N, C)
      -> one graph layer on the top-K node graph      (B, N, C)
      -> L2-normalise                                 (B, N, C)

With ``node_dim=None`` the node width is D/2 and D' = C (ME-GraphAU's Swin
configuration); AUNCE uses the full width (``node_dim=D``). See spec/AUNCE.md,
"Encoder".
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aunce_rt.models._backbones import BackboneSpec, build_backbone, to_tokens
from aunce_rt.models._layers import GraphLayer, LinearBlock, PerAULinearBlock
from aunce_rt.models._weights import load_backbone_weights

__all__ = ["INPUT_NORMS", "AUEncoder", "create_encoder", "standardise_images"]

INPUT_NORMS: tuple[str, ...] = ("none", "image")


def standardise_images(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Standardise each image with its own mean and standard deviation (over C, H, W).

    Removes a face's overall brightness and contrast (skin tone, lighting) before
    the backbone sees it; a from-scratch CNN then learns AU shapes several times
    faster (see the default recipe). Part of the encoder, so it is traced into the
    exported ONNX graph and can never differ between training and the runtime.

    Args:
        x: (B, 3, H, W) images.
        eps: added to the standard deviation (a flat image stays finite).

    Returns:
        (B, 3, H, W) images with zero mean and unit standard deviation each.
    """
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    std = x.std(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) / (std + eps)


logger = logging.getLogger(__name__)


class AUEncoder(nn.Module):
    """Per-AU features from an image: backbone -> linear blocks -> graph layer -> L2 norm.

    Build it with ``create_encoder``. Inputs are float32 RGB images normalised with
    ``aunce_rt.metadata.IMAGENET_MEAN``/``IMAGENET_STD``.

    Attributes:
        num_aus: N, the number of AUs (graph nodes).
        node_dim: C, the per-AU feature width.
        backbone_name: the registered backbone name.
        width: D, the backbone token width.
        spec: the backbone's registry entry (token layout, input size, classifier keys).
        top_k: K, neighbours per node in the graph layer.
        input_norm: "none" or "image" (see :func:`standardise_images`).
        config: keyword arguments that rebuild this encoder with ``create_encoder``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        spec: BackboneSpec,
        *,
        backbone_name: str,
        num_aus: int,
        node_dim: int,
        top_k: int = 4,
        dropout: float = 0.0,
        input_norm: str = "none",
    ) -> None:
        super().__init__()
        if input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {INPUT_NORMS}; got {input_norm!r}")
        self.input_norm = input_norm
        self.backbone = backbone
        self.spec = spec
        self.backbone_name = backbone_name
        self.width = spec.width
        self.num_aus = num_aus
        self.node_dim = node_dim
        self.top_k = top_k
        self.config: dict[str, Any] = {
            "backbone": backbone_name,
            "num_aus": num_aus,
            "node_dim": node_dim,
            "top_k": top_k,
            "dropout": dropout,
        }
        if input_norm != "none":  # older checkpoints' configs lack the key: "none"
            self.config["input_norm"] = input_norm
        self.global_linear = LinearBlock(spec.width, node_dim, dropout)
        self.class_linears = PerAULinearBlock(num_aus, node_dim, node_dim, dropout)
        self.gnn = GraphLayer(num_aus, node_dim, top_k)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone tokens.

        Args:
            x: (B, 3, H, W) normalised images.

        Returns:
            (B, T, D) tokens of the final stage.
        """
        if self.input_norm == "image":
            x = standardise_images(x)
        return to_tokens(self.backbone.forward_features(x), self.spec.layout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-AU features.

        Args:
            x: (B, 3, H, W) float32 ImageNet-normalised RGB images.

        Returns:
            (B, N, C) features, each of unit L2 norm.
        """
        tokens = self.global_linear(self.forward_tokens(x))  # (B, T, C)
        nodes = self.class_linears(tokens)  # (B, N, C)
        return F.normalize(self.gnn(nodes), p=2, dim=-1)

    def extra_repr(self) -> str:
        norm = f", input_norm={self.input_norm!r}" if self.input_norm != "none" else ""
        return (
            f"backbone={self.backbone_name!r}, num_aus={self.num_aus}, node_dim={self.node_dim}, "
            f"top_k={self.top_k}{norm}"
        )


def create_encoder(
    backbone: str,
    num_aus: int,
    *,
    node_dim: int | None = None,
    top_k: int = 4,
    init_weights: str | Path | None = None,
    dropout: float = 0.0,
    input_norm: str = "none",
) -> AUEncoder:
    """Build an AU encoder over a timm backbone (never downloads weights).

    Args:
        backbone: a name from ``list_backbones()`` (e.g. "swin_base_patch4_window7_224",
            "mobilenetv3_large_100"), or "timm:<model name>" for any other timm model.
        num_aus: N, the number of AUs.
        node_dim: C; None means half the backbone width (ME-GraphAU); the AUNCE paper
            uses the full width.
        top_k: K neighbours per AU node (4 for BP4D, 3 for DISFA).
        init_weights: a local timm/torchvision state dict (.pth/.pt/.safetensors) loaded
            into the backbone only; for "mobilenetv2_100(_tfsame)" also Google's ImageNet
            ``mobilenet_v2_1.0_224_quant.tflite`` (see ``convert_tflite_mobilenetv2``).
        dropout: dropout before each linear block.
        input_norm: "none" (the caller's ImageNet normalisation only, as the paper) or
            "image" (also standardise each image by its own statistics; for training
            from random init, see :func:`standardise_images`).

    Returns:
        The encoder, in training mode.

    Raises:
        ValueError: unknown backbone or bad sizes.
        ModelError: ``init_weights`` missing, unreadable or not fitting the backbone.

    Example:
        >>> enc = create_encoder("resnet18", 12)
        >>> enc(torch.randn(2, 3, 112, 112)).shape
        torch.Size([2, 12, 256])
    """
    if num_aus < 1:
        raise ValueError(f"num_aus must be at least 1; got {num_aus}")
    if node_dim is not None and node_dim < 1:
        raise ValueError(
            f"node_dim must be a positive width or None (half the backbone width); got {node_dim}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout}")
    if input_norm not in INPUT_NORMS:
        raise ValueError(f"input_norm must be one of {', '.join(INPUT_NORMS)}; got {input_norm!r}")
    module, spec = build_backbone(backbone)
    if init_weights is not None:
        load_backbone_weights(module, spec, init_weights)
    return AUEncoder(
        module,
        spec,
        backbone_name=backbone,
        num_aus=num_aus,
        node_dim=node_dim if node_dim is not None else spec.width // 2,
        top_k=top_k,
        dropout=dropout,
        input_norm=input_norm,
    )
