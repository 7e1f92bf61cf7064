"""A synthetic 478-point MediaPipe-like face with known pose, eye and mouth opening (for tests).

The face is a 3-D model in mm (head axes: x to the subject's left, y down, z into
the head). `project` places it at a camera-frame pose and returns what MediaPipe
reports: 2-D pixels and depth in pixels, seen along the ray through the face
(weak perspective at the face's distance, focal length = image width).
"""

from __future__ import annotations

import numpy as np

from aunce_rt.face_geometry import DEPTH_GAIN, EYE_POINTS, IRIS_CENTRE, euler_to_rotation, ray_rotation
from aunce_rt.results import FaceResult

W, H = 640, 480


def face_model(openness: float = 1.0, mouth: float = 0.0, seed: int = 0) -> np.ndarray:
    """(478, 3) mm, centred on 0: eyes ``openness`` (1 open, 0 shut), mouth gap ``mouth`` x width."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-40, 40, (478, 3)) * np.array([1.0, 1.2, 0.3])
    pts[:, 0] -= pts[:, 0].mean()  # keep x centred; y, z fixed below then recentred
    for i, (xr, y, z) in {
        33: (-45, -20, 5),
        133: (-15, -20, 5),
        130: (-47, -20, 6),
        234: (-70, 0, 30),
        61: (-25, 40, 5),
        10: (0, -80, 15),
        168: (0, -25, 0),
        9: (0, -50, 5),
        151: (0, -65, 10),
        152: (0, 85, 10),
        17: (0, 55, 5),
        200: (0, 70, 8),
        175: (0, 80, 10),
    }.items():
        pts[i] = (xr, y, z)
    mirror = {263: 33, 362: 133, 359: 130, 454: 234, 291: 61}
    for left, right in mirror.items():
        pts[left] = pts[right] * np.array([-1.0, 1.0, 1.0])
    half = 5.0 * openness  # lid half-gap: EAR = 2 * 2 * half / (2 * 30) = half / 15 per eye
    for eye in ("right", "left"):
        p1, p2, p3, p4, p5, p6 = EYE_POINTS[eye]
        outer, inner = pts[p1], pts[p4]
        for top, bottom, t in ((p2, p6, 1 / 3), (p3, p5, 2 / 3)):
            base = outer + (inner - outer) * t
            pts[top] = base + (0, -half, -1)
            pts[bottom] = base + (0, half, -1)
        pts[IRIS_CENTRE[eye]] = 0.5 * (outer + inner)  # on the eyeball sphere: looking ahead
    pts[13] = (0, 40 - 25 * mouth, 3)
    pts[14] = (0, 40 + 25 * mouth, 3)
    return pts


def project(model: np.ndarray, pitch: float, yaw: float, roll: float, t_mm=(0.0, 0.0, 500.0)):
    """(478, 2) pixels and (478,) depth pixels of ``model`` at a camera-frame pose (degrees, mm).

    The depth is flattened by ``DEPTH_GAIN``, as MediaPipe's is (face_geometry undoes it).
    """
    t = np.asarray(t_mm, dtype=np.float64)
    view = ray_rotation(t).T @ euler_to_rotation(pitch, yaw, roll)  # as seen along the ray
    scale = W / t[2]  # pixels per mm at the face's depth (focal length = W)
    centre = np.array([W * t[0] / t[2] + W / 2, W * t[1] / t[2] + H / 2])
    pts = (model - model.mean(axis=0)) @ view.T * scale
    return (pts[:, :2] + centre).astype(np.float32), (pts[:, 2] / DEPTH_GAIN).astype(np.float32)


def face_result(points: np.ndarray, depth: np.ndarray, face_id: int = 0) -> FaceResult:
    """A one-AU FaceResult carrying ``points`` and ``depth`` (what the detector would report)."""
    return FaceResult(
        face_id,
        np.array([0, 0, 1, 1], np.float32),
        points,
        0.9,
        (12,),
        np.zeros(1, np.float32),
        np.zeros(1, bool),
        depth=depth,
    )
