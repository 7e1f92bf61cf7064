"""A face's landmark geometry as a model input: the 478 points in the aligned frame.

Models whose metadata lists ``"landmarks"`` among their ``inputs`` take, beside
(or instead of) the aligned crop, the face's 478 MediaPipe points mapped by the
same similarity transform that makes the crop (``aunce_rt.align``: the central
224 px of the 256 px template), z multiplied by the same scale. Training and the
runtime both call :func:`aligned_landmarks`, so the geometry a model was fitted
on is the geometry it sees (``GEOMETRY_SPEC`` names this contract in the
metadata; a model with another spec is refused).

MediaPipe's landmarker is trained on real faces, so its points carry expression
geometry across the gap between rendered and real faces, where texture does not.

Example:
    >>> pts = np.random.default_rng(0).uniform(100, 300, (478, 2)).astype(np.float32)
    >>> aligned_landmarks(pts, np.zeros(478, np.float32)).shape
    (478, 3)
"""

from __future__ import annotations

import numpy as np

from aunce_rt.align import CROP_SIZE, INPUT_SIZE, alignment_matrix, transform_points
from aunce_rt.errors import InputError

GEOMETRY_SPEC = "mediapipe478-aligned224-v1"
NUM_POINTS = 478


def aligned_landmarks(points: np.ndarray, z: np.ndarray) -> np.ndarray:
    """A face's points in the runtime's aligned frame.

    Args:
        points: (478, 2) x, y in frame pixels (``FaceLandmarks.points``).
        z: (478,) relative depth in pixels at the scale of x (``FaceLandmarks.z``).

    Returns:
        (478, 3) float32: x, y in the 224 px aligned crop and z times the same scale.
    """
    points = np.asarray(points, np.float64)
    z = np.asarray(z, np.float64).reshape(-1)
    if points.shape != (NUM_POINTS, 2) or z.shape != (NUM_POINTS,):
        raise InputError(
            f"geometry needs {NUM_POINTS} MediaPipe points (478, 2) and depths (478,); "
            f"got {points.shape} and {z.shape}"
        )
    m = alignment_matrix(points, "mediapipe", size=CROP_SIZE, crop=INPUT_SIZE)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    xy = transform_points(points, m)
    return np.column_stack([xy, z * scale]).astype(np.float32)


def mirror_landmarks(aligned: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """The aligned geometry of the mirrored face: x reflected about the crop's centre, points re-indexed.

    Args:
        aligned: (..., 478, 3) from :func:`aligned_landmarks`.
        permutation: (478,) index of each point's mirror partner (an involution).

    Returns:
        (..., 478, 3) float32, what :func:`aligned_landmarks` gives on the flipped frame.
    """
    out = np.array(aligned, np.float32)[..., permutation, :]
    out[..., 0] = INPUT_SIZE - out[..., 0]
    return out
