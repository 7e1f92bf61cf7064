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
GEOMETRY_FRONTAL = "mediapipe478-frontal-v1"  # GEOMETRY_SPEC, then rigidly rotated onto a frontal reference
KNOWN_GEOMETRY = (GEOMETRY_SPEC, GEOMETRY_FRONTAL)
NUM_POINTS = 478
# Points that expressions barely move (forehead, nose, cheekbone contour, inner eye corners),
# mirror-symmetric as a set: the rigid 3-D fit of ``frontalise`` uses only these.
STABLE_POINTS = (
    10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2,  # midline: forehead, nose bridge, nose tip and base
    98, 327, 234, 454, 127, 356, 93, 323, 133, 362,  # pairs: alae, cheek contour, temples, inner eye corners
)  # fmt: skip


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


def frontalise(
    aligned: np.ndarray, reference: np.ndarray, points: tuple[int, ...] = STABLE_POINTS
) -> np.ndarray:
    """Aligned geometry rigidly rotated and scaled in 3-D onto a frontal reference face.

    The similarity alignment removes in-plane rotation only; head pitch and yaw still
    move the brows and lip corners in the aligned frame. Here the rotation, uniform scale
    and translation that best map the face's ``points`` onto the reference's (Kabsch /
    Umeyama, least squares) are applied to all 478 points.

    Args:
        aligned: (478, 3) or (N, 478, 3) from :func:`aligned_landmarks`.
        reference: (478, 3) frontal reference face in the same frame.
        points: indices of the points the fit uses.

    Returns:
        float32 array of the shape of ``aligned``.
    """
    g = np.asarray(aligned, np.float64)
    single = g.ndim == 2
    g = g[None] if single else g
    ref = np.asarray(reference, np.float64)
    if g.shape[1:] != (NUM_POINTS, 3) or ref.shape != (NUM_POINTS, 3):
        raise InputError(
            f"frontalise needs (N, 478, 3) geometry and a (478, 3) reference; got {g.shape}, {ref.shape}"
        )
    idx = list(points)
    a, b = g[:, idx], ref[idx]
    ca, cb = a.mean(1, keepdims=True), b.mean(0)
    a0, b0 = a - ca, b - cb
    h = np.einsum("npi,pj->nij", a0, b0)  # (N, 3, 3) cross-covariance
    u, sv, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("nji,nkj->nik", vt, u)))  # det(V U^T): no reflections
    fix = np.ones((len(g), 3))
    fix[:, 2] = d
    rot = np.einsum("nji,nj,nkj->nik", vt, fix, u)  # V diag(1, 1, d) U^T
    scale = (sv * fix).sum(1) / np.maximum((a0**2).sum((1, 2)), 1e-12)
    out = scale[:, None, None] * np.einsum("nij,npj->npi", rot, g - ca) + cb
    return (out[0] if single else out).astype(np.float32)


def geometry_input(
    points: np.ndarray, z: np.ndarray, spec: str, reference: np.ndarray | None = None
) -> np.ndarray:
    """The (478, 3) geometry a model of geometry ``spec`` takes, from a face's landmarks.

    Raises:
        InputError: an unknown spec, or a frontal spec without its reference.
    """
    g = aligned_landmarks(points, z)
    if spec == GEOMETRY_SPEC:
        return g
    if spec == GEOMETRY_FRONTAL:
        if reference is None:
            raise InputError(
                f"geometry {spec!r} needs the model's reference face (metadata geometry_reference)"
            )
        return frontalise(g, reference)
    raise InputError(f"unknown geometry {spec!r}; this aunce-rt knows {list(KNOWN_GEOMETRY)}")


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
