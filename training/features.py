"""Frozen-encoder feature extraction, computed once and cached for linear evaluation.

Example:
    >>> feats = extract_features(encoder, dataset, image_size=224)  # doctest: +SKIP
    >>> feats.features.shape  # (S, N, C) per-AU features, labels (S, N)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError
from aunce_rt.training.augment import TransformedDataset, eval_transform


@dataclass(frozen=True)
class FeatureSet:
    """Per-AU features of a split and its labels.

    Attributes:
        features: (S, N, C) float32 L2-normalised per-AU features.
        labels: (S, N) int64 in {-1, 0, 1}.
    """

    features: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.features.ndim != 3 or self.labels.ndim != 2:
            raise InputError(
                f"features must be (S, N, C) and labels (S, N); got {tuple(self.features.shape)} "
                f"and {tuple(self.labels.shape)}"
            )
        if self.features.shape[:2] != self.labels.shape:
            raise InputError(
                f"features {tuple(self.features.shape)} and labels {tuple(self.labels.shape)} "
                "disagree on (S, N)"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: str | torch.device) -> FeatureSet:
        """The same set on ``device``."""
        return FeatureSet(self.features.to(device), self.labels.to(device))


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    data: Dataset,
    *,
    image_size: int = INPUT_SIZE,
    resize: int | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
) -> FeatureSet:
    """Run the encoder, in eval mode and without gradients, over a dataset once.

    Args:
        encoder: maps (B, 3, H, W) to (B, N, C); left in eval mode.
        data: dataset of ``(image BGR ndarray | (3,H,W) uint8 RGB tensor, labels (N,))``;
            each image gets the centre-crop eval transform.
        image_size: network input side.
        resize: resize stored crops to this side before the centre crop.
        batch_size: images per forward pass.
        device: where to run the encoder.
        num_workers: DataLoader worker processes.

    Returns:
        A CPU :class:`FeatureSet` ((S, N, C) features, (S, N) labels).
    """
    if len(data) == 0:  # type: ignore[arg-type]
        raise InputError("cannot extract features from an empty dataset; check the image list")
    encoder.eval()
    ds = TransformedDataset(data, eval_transform(image_size, resize=resize), views=1)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    feats, labels = [], []
    for images, y in loader:
        feats.append(encoder(images.to(device)).float().cpu())  # (B, N, C)
        labels.append(y.long())  # (B, N)
    return FeatureSet(torch.cat(feats), torch.cat(labels))
