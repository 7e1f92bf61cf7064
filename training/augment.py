"""Image transforms for training and evaluation: SimCLR-style views and the eval crop.

Crops on disk are 256x256 aligned faces in OpenCV's BGR order (``aunce_rt.align``).
:func:`to_rgb_tensor` is the ONE place BGR becomes RGB; every transform here takes
its output, a ``(3, H, W)`` uint8 RGB tensor, and returns a ``(3, size, size)``
float32 tensor normalised with ImageNet mean/std (``aunce_rt.metadata``), the
same normalisation the exported ONNX graph applies.

Training view (paper Sec. 4.1.2, after SimCLR, Chen et al. 2020): random crop
``size`` from the (optionally resized) crop, horizontal flip, colour jitter
(0.4, 0.4, 0.4, 0.1) with p=0.8, grayscale with p=0.2, Gaussian blur (kernel
about 10% of the side, sigma in [0.1, 2.0], p=0.5).

Horizontal flip is label-safe: the AUs of every supported benchmark are scored
bilaterally (FACS codes the action, not its side), so a mirrored face carries the
same labels. Do not use it for unilateral AU coding (e.g. "R12"/"L12").

Evaluation view: centre crop ``size`` + normalise, which equals the runtime's
warp straight to 224 (``aunce_rt.align``).

Example:
    >>> import numpy as np
    >>> crop = np.zeros((256, 256, 3), np.uint8)
    >>> eval_transform()(to_rgb_tensor(crop)).shape
    torch.Size([3, 224, 224])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError
from aunce_rt.metadata import IMAGENET_MEAN, IMAGENET_STD

Transform = Callable[[torch.Tensor], torch.Tensor]


def to_rgb_tensor(image_bgr: np.ndarray | torch.Tensor) -> torch.Tensor:
    """OpenCV image (H, W, 3) uint8 BGR -> (3, H, W) uint8 RGB tensor.

    A tensor is assumed to already be (3, H, W) uint8 RGB and is returned unchanged.
    Grayscale (H, W) input is repeated to three channels.
    """
    if isinstance(image_bgr, torch.Tensor):
        return image_bgr
    img = np.asarray(image_bgr)
    if img.dtype != np.uint8:
        raise InputError(f"expected a uint8 image; got dtype {img.dtype}. Convert it to 8 bits first.")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"expected an image (H, W, 3) BGR; got shape {img.shape}")
    rgb = np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1))  # (3, H, W) RGB
    return torch.from_numpy(rgb)


AUGMENTATIONS: tuple[str, ...] = ("simclr", "light")


def _normalise() -> list[Any]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(IMAGENET_MEAN), list(IMAGENET_STD))]


def _resize(resize: int | None) -> list[Any]:
    return [v2.Resize((resize, resize), antialias=True)] if resize else []


def train_transform(
    size: int = INPUT_SIZE,
    *,
    resize: int | None = None,
    strength: str = "simclr",
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1),
    jitter_p: float = 0.8,
    grayscale_p: float = 0.2,
    blur_p: float = 0.5,
) -> Transform:
    """SimCLR-style training view: (3, H, W) uint8 RGB -> (3, size, size) float32.

    Args:
        size: side of the random crop fed to the network (224 from a 256 crop).
        resize: resize the input square to this side first (e.g. 128 for a 112 input
            on CPU); None keeps the crop as it is on disk.
        jitter: brightness, contrast, saturation, hue of the colour jitter.
        jitter_p: probability of applying the colour jitter.
        grayscale_p: probability of converting to grayscale (3 channels kept).
        blur_p: probability of a Gaussian blur.
        strength: "simclr" (the paper's views, above) or "light": random crop, flip and a
            mild brightness/contrast jitter only. "light" is for from-scratch CPU training,
            where hue jitter and blur cost more time than the small models gain from them.
    """
    if strength not in AUGMENTATIONS:
        raise InputError(f"augmentation must be one of {AUGMENTATIONS}; got {strength!r}")
    if strength == "light":
        return v2.Compose(
            [
                *_resize(resize),
                v2.RandomCrop(size),
                v2.RandomHorizontalFlip(),
                v2.RandomApply([v2.ColorJitter(0.2, 0.2)], p=0.5),
                *_normalise(),
            ]
        )
    kernel = max(3, int(0.1 * size) // 2 * 2 + 1)  # odd, about 10% of the side
    return v2.Compose(
        [
            *_resize(resize),
            v2.RandomCrop(size),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(*jitter)], p=jitter_p),
            v2.RandomGrayscale(p=grayscale_p),
            v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=blur_p),
            *_normalise(),
        ]
    )


def eval_transform(size: int = INPUT_SIZE, *, resize: int | None = None) -> Transform:
    """Evaluation view: (3, H, W) uint8 RGB -> centre crop (3, size, size) float32, normalised."""
    return v2.Compose([*_resize(resize), v2.CenterCrop(size), *_normalise()])


class TransformedDataset(Dataset):
    """Apply a view transform to a dataset of ``(image, labels)`` pairs.

    The base dataset yields an image (BGR ndarray or (3, H, W) uint8 RGB tensor) and
    its labels (N,) in {-1, 0, 1}. Items become ``(view, labels)`` or, with
    ``views=2``, ``(view1, view2, labels)``: two independent draws of ``transform``
    on the same image, the positive pair of contrastive pretraining.

    Args:
        base: the dataset (e.g. ``aunce_rt.training.data.dataset.AUDataset`` without transform).
        transform: a view transform from this module.
        views: 1 or 2.
    """

    def __init__(self, base: Dataset, transform: Transform, views: int = 1) -> None:
        if views not in (1, 2):
            raise ValueError(f"views must be 1 or 2; got {views}")
        self.base = base
        self.transform = transform
        self.views = views

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, ...]:
        item = self.base[idx]
        image, labels = item[0], item[1]
        img = to_rgb_tensor(image)
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        views = tuple(self.transform(img) for _ in range(self.views))
        return (*views, y)


def dataset_labels(data: Any) -> np.ndarray | None:
    """Labels (S, N) of a dataset or loader, found through ``.labels``/``.dataset``/``Subset``.

    Returns None when no labels attribute can be found (then pass rates explicitly).
    """
    indices: Sequence[int] | None = None
    obj = data
    for _ in range(8):
        labels = getattr(obj, "labels", None)
        if labels is not None:
            arr = np.asarray(labels.numpy() if isinstance(labels, torch.Tensor) else labels)
            return arr[np.asarray(indices)] if indices is not None else arr
        sub = getattr(obj, "indices", None)
        if sub is not None:
            sub = np.asarray(sub)
            indices = sub if indices is None else sub[np.asarray(indices)]
        nxt = getattr(obj, "dataset", None)
        if nxt is None:
            nxt = getattr(obj, "base", None)
        if nxt is None:
            return None
        obj = nxt
    return None
