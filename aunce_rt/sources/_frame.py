"""`Frame`: one decoded 8-bit BGR frame, the unit every source yields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based decode index in the source (kept when ``stride`` skips frames).
        timestamp: seconds from the start of the source (see the module docstring).
        image: ``(H, W, 3)`` uint8 BGR pixels.
        name: file the frame came from (the image's or video's file name) or the
            source's name (``camera 0``, the URL, ``array``).
    """

    index: int
    timestamp: float
    image: np.ndarray
    name: str


def strided_count(count: int, stride: int) -> int:
    """Frames kept out of ``count`` when keeping every ``stride``-th one (the first included)."""
    return (count + stride - 1) // stride
