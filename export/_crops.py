"""Aligned face crops for verification and int8 calibration, as the graph takes them.

Every function returns ``(N, 224, 224, 3)`` uint8 RGB: the exported graph's input.
Crops come from random noise, a folder of aligned images (224 px, or 256 px
training crops which are centre-cropped, as evaluation does), a labelled folder in
the list format, or SynthAU renders when the training package is installed.

Example:
    >>> random_crops(2).shape
    (2, 224, 224, 3)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from aunce_rt.align import CROP_SIZE, INPUT_SIZE, center_crop
from aunce_rt.errors import InputError, ModelError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
LIST_IMAGES = "images.txt"
LIST_LABELS = "labels.txt"


def random_crops(n: int, seed: int = 0, size: int = INPUT_SIZE) -> np.ndarray:
    """Uniform noise crops (n, size, size, 3) uint8, reproducible from ``seed``."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def to_input_crop(image_bgr: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """One aligned crop (H, W, 3|4|1) BGR of any bit depth -> (size, size, 3) uint8 RGB.

    A crop of side ``size`` is used as is; a 256 px training crop is centre-cropped;
    any other size is resized to 256 first (keeping the template's scale) and
    centre-cropped.
    """
    image = np.asarray(image_bgr)
    if image.dtype != np.uint8:
        scale = 255.0 / 65535.0 if image.dtype == np.uint16 else 1.0
        image = np.clip(image.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.shape[2] == 1:
        image = cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    if (h, w) != (size, size):
        full = round(size * CROP_SIZE / INPUT_SIZE)
        if (h, w) != (full, full):
            image = cv2.resize(image, (full, full), interpolation=cv2.INTER_AREA)
        image = center_crop(image, size)
    return np.ascontiguousarray(image[:, :, ::-1])


def read_crop(path: str | Path, size: int = INPUT_SIZE) -> np.ndarray:
    """Read one aligned crop file -> (size, size, 3) uint8 RGB; InputError if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"cannot read image {path}; expected an aligned face crop (jpg/png)")
    return to_input_crop(image, size)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder`` (sorted); InputError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"crop folder not found: {folder}; pass a folder of aligned face crops")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}; pass a folder of aligned face crops"
        )
    return files


def folder_crops(folder: str | Path, limit: int | None = None, size: int = INPUT_SIZE) -> np.ndarray:
    """Aligned crops of a folder -> (N, size, size, 3) uint8 RGB (first ``limit`` files)."""
    files = list_images(folder)[:limit]
    return np.stack([read_crop(f, size) for f in files])


def as_crops(source: np.ndarray | str | Path, limit: int | None = None, size: int = INPUT_SIZE) -> np.ndarray:
    """Crops from an array (N, size, size, 3) uint8 RGB (checked) or a folder of images."""
    if isinstance(source, (str, Path)):
        return folder_crops(source, limit, size)
    array = np.asarray(source)
    if array.ndim != 4 or array.shape[1:] != (size, size, 3) or array.dtype != np.uint8:
        raise InputError(
            f"real crops must be uint8 (N, {size}, {size}, 3) RGB; got {array.dtype} "
            f"{array.shape}; make them with aunce_rt.align.aligned_input(..., input_size={size})"
        )
    return array[:limit]


def labelled_crops(
    folder: str | Path, au_codes: Sequence[int], size: int = INPUT_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """A labelled folder in the list format -> (crops (S, size, size, 3) uint8 RGB, labels (S, K) int8).

    The folder holds ``images.txt`` (image paths, relative to the folder) and the
    parallel ``labels.txt`` (one row of K values in {-1, 0, 1} per image, in the
    model's AU order).
    """
    folder = Path(folder)
    images_file, labels_file = folder / LIST_IMAGES, folder / LIST_LABELS
    if not images_file.is_file() or not labels_file.is_file():
        raise InputError(
            f"labelled folder {folder} needs {LIST_IMAGES} (one crop path per line) and {LIST_LABELS} "
            "(one row of 0/1 per image, in the model's AU order)"
        )
    try:
        from aunce_rt.datasets.formats import read_list
    except ImportError as exc:
        raise ModelError(f"reading a labelled folder needs the training package ({exc})") from None
    index = read_list(images_file, labels_file, au_codes, root=folder)
    crops = np.stack([read_crop(p, size) for p in index.paths])
    return crops, np.asarray(index.labels, dtype=np.int8)


def synthau_crops(n: int, seed: int = 0, size: int = INPUT_SIZE) -> np.ndarray:
    """SynthAU aligned crops (n, size, size, 3) uint8 RGB, for calibration when no folder is given."""
    try:
        from aunce_rt.synthau import SynthAU, aligned_crop
    except ImportError as exc:
        raise ModelError(
            f"no calibration crops: --calib was not given and SynthAU is unavailable ({exc}); "
            "pass --calib DIR with aligned face crops"
        ) from None
    data = SynthAU(seed=seed, split="train")
    return np.stack([to_input_crop(aligned_crop(data.render_sample(i)), size) for i in range(n)])
