"""The torch module that is exported: uint8 aligned crops in, per-AU probabilities out.

Normalisation lives inside the graph so that no caller can get it wrong:
``images`` (N, 224, 224, 3) uint8 RGB -> float (N, 3, 224, 224) -> (x/255 - mean)/std
-> encoder (N, K, C) -> per-AU probe -> sigmoid -> ``probs`` (N, K).
Pre- and post-processing sit in the ``preprocess`` / ``postprocess`` submodules so
that their ONNX node names carry those scopes (the int8 quantiser keeps them float).
"""

from __future__ import annotations

import torch
from torch import nn

from aunce_rt.metadata import IMAGENET_MEAN, IMAGENET_STD


class Preprocess(nn.Module):
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 ImageNet-normalised."""

    def __init__(
        self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
    ) -> None:
        super().__init__()
        # x/255 - mean) / std == (x - 255*mean) / (255*std): one Sub and one Div in the graph.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).to(torch.float32)  # (N, 3, H, W)
        return (x - self.mean) / self.std


class Postprocess(nn.Module):
    """Logits (N, K) -> probabilities (N, K)."""

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)


class ExportWrapper(nn.Module):
    """The exported graph around an AUModel (``encoder`` (N, K, C) features + ``probe`` (N, K) logits).

    Args:
        model: an AUModel in eval mode.
        with_features: also return the per-AU features (N, K, C).
    """

    def __init__(self, model: nn.Module, with_features: bool = False) -> None:
        super().__init__()
        self.preprocess = Preprocess()
        self.model = model
        self.postprocess = Postprocess()
        self.with_features = with_features

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = self.preprocess(images)  # (N, 3, 224, 224)
        z = self.model.forward_features(x)  # (N, K, C)
        probs = self.postprocess(self.model.probe(z))  # (N, K)
        return (probs, z) if self.with_features else probs
