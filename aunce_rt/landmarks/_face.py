"""`FaceLandmarks`, the `LandmarkBackend` interface and the helpers both backends share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from aunce_rt.boxes import box_of
from aunce_rt.errors import InputError

NUM_LANDMARKS = 478


@dataclass(frozen=True)
class FaceLandmarks:
    """One face's landmarks in frame pixels.

    Attributes:
        points: (478, 2) float32 x, y pixels (MediaPipe FaceMesh topology with irises).
        z: (478,) float32 relative depth, in pixels at the scale of x (smaller = nearer).
        confidence: landmark confidence in [0, 1] (see the module docstring).
        box: (4,) float32 ``x1, y1, x2, y2``, the landmarks' bounding box.
        blendshapes: the 52 MediaPipe blendshape scores (Tasks backend only).
    """

    points: np.ndarray
    z: np.ndarray
    confidence: float
    box: np.ndarray
    blendshapes: dict[str, float] | None = None


class LandmarkBackend(Protocol):
    """What the detector needs from a landmarker."""

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> list[FaceLandmarks]:
        """Faces in an (H, W, 3) uint8 RGB frame; ``timestamp_ms`` grows over a stream."""
        ...

    def reset(self) -> None:
        """Forget the stream so far (tracking state, timestamps): the next frame starts a new one."""
        ...

    def close(self) -> None:
        """Release the MediaPipe graph."""
        ...


def most_confident_face(
    backend: LandmarkBackend, image_bgr: np.ndarray, timestamp_ms: int = 0
) -> FaceLandmarks | None:
    """The most confident face ``backend`` finds in a BGR frame, or None when it finds none."""
    faces = backend.process(np.ascontiguousarray(image_bgr[:, :, ::-1]), timestamp_ms)
    return max(faces, key=lambda f: f.confidence) if faces else None


def to_face(landmarks: Any, width: int, height: int, confidence: float, offset=(0.0, 0.0)) -> FaceLandmarks:
    """MediaPipe normalised landmarks (of an image width x height, placed at offset) -> FaceLandmarks."""
    arr = np.array([(p.x, p.y, p.z) for p in landmarks], dtype=np.float32)  # (478, 3) normalised
    pts = arr[:, :2] * np.array([width, height], np.float32) + np.asarray(offset, np.float32)
    z = arr[:, 2] * width
    return FaceLandmarks(points=pts, z=z, confidence=float(confidence), box=box_of(pts))


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        got = getattr(rgb, "shape", type(rgb).__name__), getattr(rgb, "dtype", "")
        raise InputError(f"landmarks need an (H, W, 3) uint8 RGB image; got {got}")
    return np.ascontiguousarray(rgb)
