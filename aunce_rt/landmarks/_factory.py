"""`create_backend`: the landmark backend named by a user's ``landmarks`` option."""

from __future__ import annotations

from pathlib import Path

from aunce_rt.errors import InputError
from aunce_rt.landmarks._face import LandmarkBackend
from aunce_rt.landmarks._facemesh import FaceMeshBackend
from aunce_rt.landmarks._tasks import TasksBackend


def create_backend(
    landmarks: str | Path = "facemesh", *, static: bool, max_faces: int = 4, min_confidence: float = 0.5
) -> LandmarkBackend:
    """Make a landmark backend.

    Args:
        landmarks: "facemesh" (bundled) or the path of a MediaPipe ``.task`` bundle.
        static: still images (True) or a video/stream (False, tracking).
        max_faces: most faces per frame.
        min_confidence: detection threshold (and tracking/presence thresholds).
    """
    spec = str(landmarks)
    if spec == "facemesh":
        return FaceMeshBackend(
            static=static,
            max_faces=max_faces,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
    if spec.endswith(".task"):
        return TasksBackend(spec, static=static, max_faces=max_faces, min_confidence=min_confidence)
    raise InputError(
        f"unknown landmark backend {spec!r}; expected 'facemesh' or the path of a MediaPipe "
        "FaceLandmarker '.task' file"
    )
