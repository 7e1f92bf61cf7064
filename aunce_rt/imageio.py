"""Image reading and conversion to the one pixel format the runtime uses: 8-bit BGR.

Every frame that enters the detector is a C-contiguous ``(H, W, 3)`` uint8 array in
OpenCV's BGR order, whatever it was on disk or in memory. The conversion rules:

- 1 channel (``(H, W)`` or ``(H, W, 1)``) is replicated to 3 channels.
- 4 channels (BGRA) keep the colour and drop the alpha channel (as PIL's
  ``convert("RGB")`` does): transparent pixels show whatever colour they store.
- Integer data wider than 8 bits (uint16, int32, ...) is scaled from its bit depth
  to 0..255: the depth is the smallest of 8, 10, 12, 14, 16, 32 bits that holds
  the image's maximum, so a 12-bit image stored in uint16 is not rendered black.
  Negative values clip to 0.
- Float data in 0..1 is scaled by 255; float data whose maximum exceeds 1 is taken
  as 0..255. NaN becomes 0.
- bool becomes 0 / 255.

Files are decoded with ``IMREAD_ANYDEPTH | IMREAD_ANYCOLOR`` so that EXIF
orientation is applied and the bit depth is kept for the conversion above. Paths
with non-ASCII characters work (the bytes are read with numpy, then decoded).

Example:
    >>> import numpy as np
    >>> to_bgr8(np.full((40, 40), 65535, np.uint16)).shape
    (40, 40, 3)
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from aunce_rt.errors import InputError

logger = logging.getLogger(__name__)

# Suffixes OpenCV's imgcodecs decode (lower case, with the dot).
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".jpe",
    ".png",
    ".bmp",
    ".dib",
    ".tif",
    ".tiff",
    ".webp",
    ".jp2",
    ".pbm",
    ".pgm",
    ".ppm",
    ".pnm",
    ".pxm",
    ".sr",
    ".ras",
    ".exr",
    ".hdr",
    ".pic",
)

MIN_IMAGE_SIDE = 32
LARGE_IMAGE_PIXELS = 40_000_000
_INT_DEPTHS = (8, 10, 12, 14, 16, 32)


def is_image_path(path: str | Path) -> bool:
    """True when the suffix of ``path`` is one OpenCV decodes as a still image."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def to_bgr8(image: np.ndarray, *, name: str = "array") -> np.ndarray:
    """Convert an image array of any depth and channel count to 8-bit BGR.

    Args:
        image: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` (BGR) or ``(H, W, 4)`` (BGRA)
            array of dtype uint8, any other integer type, float or bool.
        name: how to name the image in error messages.

    Returns:
        ``(H, W, 3)`` uint8 C-contiguous BGR array. A uint8 BGR contiguous input is
        returned as is (no copy).

    Raises:
        InputError: the shape or dtype cannot be an image, or a side is smaller
            than ``MIN_IMAGE_SIDE`` pixels.
    """
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name}: expected a numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise InputError(
            f"{name}: array of shape {image.shape} is not an image; expected (H, W), (H, W, 1), "
            "(H, W, 3) BGR or (H, W, 4) BGRA"
        )
    h, w = image.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise InputError(
            f"{name}: image of {w}x{h} px is too small; faces need at least "
            f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} px, pass a larger image"
        )
    image = _to_uint8(image, name=name)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as 8-bit BGR (see the module docstring for the rules).

    Args:
        path: image file (any format OpenCV decodes; see ``IMAGE_EXTENSIONS``).

    Returns:
        ``(H, W, 3)`` uint8 BGR array.

    Raises:
        InputError: the file is missing, empty, cannot be decoded or is too small.

    Example:
        >>> img = read_image("face.jpg")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {str(path)!r} does not exist; check the path")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"image {str(path)!r} is an empty (0-byte) file; pass a valid image")
    image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if image is None:
        raise InputError(
            f"cannot decode image {str(path)!r} ({data.size} bytes): the file is corrupt or not an "
            f"image; re-save it as JPEG or PNG"
        )
    if image.shape[0] * image.shape[1] > LARGE_IMAGE_PIXELS:
        logger.info("%s is large (%dx%d px); decoding it takes time", path, image.shape[1], image.shape[0])
    return to_bgr8(image, name=str(path))


def _to_uint8(image: np.ndarray, *, name: str) -> np.ndarray:
    """Scale any dtype to uint8 with the rules in the module docstring."""
    dtype = image.dtype
    if dtype == np.uint8:
        return image
    if dtype == np.bool_:
        return image.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(dtype, np.integer):
        top = int(image.max()) if image.size else 0
        bits = next((b for b in _INT_DEPTHS if top < (1 << b)), 64)
        if bits == 8:
            return np.clip(image, 0, 255).astype(np.uint8)
        scale = 255.0 / float((1 << bits) - 1)
        return np.clip(np.rint(image.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    if np.issubdtype(dtype, np.floating):
        img = np.nan_to_num(image.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if float(img.max(initial=0.0)) <= 1.0 else 1.0
        return np.clip(np.rint(img * scale), 0, 255).astype(np.uint8)
    raise InputError(f"{name}: arrays of dtype {dtype} are not images; use uint8, uint16 or float in 0..1")
