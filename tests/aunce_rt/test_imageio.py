"""Tests of aunce_rt.imageio: reading files and converting arrays to 8-bit BGR."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.imageio import is_image_path, read_image, to_bgr8


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1 EXIF segment holding only the Orientation tag after SOI."""
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = np.zeros((60, 100, 3), np.uint8)
    image[:, :50] = 255  # left half white
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_with_exif_orientation(buf.tobytes(), 6))  # 6: rotate 90 degrees clockwise
    out = read_image(path)
    assert out.shape == (100, 60, 3)
    assert out[10, 30].mean() > 200 and out[90, 30].mean() < 50  # white half now on top


def test_unicode_path(tmp_path: Path) -> None:
    path = tmp_path / "visage_été.png"
    ok, buf = cv2.imencode(".png", np.full((40, 40, 3), 9, np.uint8))
    path.write_bytes(buf.tobytes())
    assert int(read_image(path)[0, 0, 0]) == 9


def test_uint8_bgr_is_not_copied_and_others_are_contiguous() -> None:
    image = np.zeros((40, 40, 3), np.uint8)
    assert to_bgr8(image) is image
    bgra = np.zeros((40, 40, 4), np.uint8)
    bgra[..., 3] = 255
    out = to_bgr8(bgra)
    assert out.shape == (40, 40, 3) and out.flags.c_contiguous


def test_float_nan_and_negative_ints() -> None:
    img = np.full((40, 40), np.nan, np.float32)
    assert np.all(to_bgr8(img) == 0)
    assert np.all(to_bgr8(np.full((40, 40), -5, np.int16)) == 0)
    assert np.all(to_bgr8(np.full((40, 40), 200.0, np.float64)) == 200)  # float 0..255


def test_read_image_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "none.png")
    with pytest.raises(InputError, match="not a numpy array|expected a numpy array"):
        to_bgr8([1, 2, 3])  # type: ignore[arg-type]


def test_is_image_path() -> None:
    assert is_image_path("a/B.JPG") and is_image_path("x.tiff") and is_image_path(Path("y.webp"))
    assert not is_image_path("clip.mp4") and not is_image_path("notes")
