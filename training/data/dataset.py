"""The one dataset class for every benchmark: aligned crops of an ``AUIndex``.

Items are ``(image, labels)``: the crop as OpenCV reads it, (H, W, 3) uint8 BGR,
resized to ``crop_size`` when it is stored at another size, and its labels (N,)
int8 in {-1, 0, 1}. Views (SimCLR augmentation, eval crop) are applied by
``aunce_rt.training.augment.TransformedDataset``; ``labels`` and ``subjects`` are exposed
for the training loops (occurrence rates, subject-exclusive validation).

Example:
    >>> ds = AUDataset(read_manifest("prepared/manifest.csv"))  # doctest: +SKIP
    >>> image, labels = ds[0]                                   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from aunce_rt.datasets.index import AUIndex
from aunce_rt.errors import InputError


class AUDataset(Dataset):
    """Aligned face crops and their AU labels.

    Args:
        index: the frames (paths, labels (S, N), subjects, AU codes).
        crop_size: side the crops are resized to when stored at another size
            (256 = the alignment template's native crop); None keeps them as stored.
        cache: keep each decoded, resized crop in memory after its first read (small
            crops, ``num_workers=0``: every worker process would fill its own copy).
    """

    def __init__(self, index: AUIndex, crop_size: int | None = None, *, cache: bool = False) -> None:
        self.index = index
        self.crop_size = crop_size
        self._cache: dict[int, np.ndarray] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def labels(self) -> np.ndarray:
        """(S, N) int8 labels in {-1, 0, 1} (a writable copy)."""
        return self.index.labels.copy()

    @property
    def subjects(self) -> tuple[str, ...]:
        return self.index.subjects

    @property
    def au_codes(self) -> tuple[int, ...]:
        return self.index.au_codes

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is not None and i in self._cache:
            return self._cache[i], self.index.labels[i].copy()
        image = self._read(i)
        if self._cache is not None:
            image.setflags(write=False)  # shared between epochs: transforms must copy
            self._cache[i] = image
        return image, self.index.labels[i].copy()

    def _read(self, i: int) -> np.ndarray:
        import cv2

        path = self.index.paths[i]
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(
                f"cannot read image {path!r} (item {i} of {self.index.source}); is it a valid image?"
            )
        if self.crop_size is not None and image.shape[:2] != (self.crop_size, self.crop_size):
            image = cv2.resize(image, (self.crop_size, self.crop_size), interpolation=cv2.INTER_AREA)
        return image
