"""`TasksBackend`: MediaPipe Tasks ``FaceLandmarker`` from a ``.task`` bundle (adds blendshapes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aunce_rt.errors import ModelError
from aunce_rt.landmarks._face import FaceLandmarks, check_rgb, to_face
from aunce_rt.landmarks._native import native_stderr_silenced


class TasksBackend:
    """MediaPipe Tasks FaceLandmarker from a ``.task`` bundle, with blendshapes.

    Args:
        model_path: the ``face_landmarker.task`` file.
        static: IMAGE running mode when True, VIDEO (tracking) when False.
        max_faces: most faces per frame.
        min_confidence: detection, presence and tracking thresholds.
    """

    def __init__(
        self, model_path: str | Path, *, static: bool, max_faces: int = 4, min_confidence: float = 0.5
    ):
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(
                f"landmark model {path} not found; pass an existing MediaPipe FaceLandmarker .task file "
                "or landmarks='facemesh' (the bundled default)"
            )
        from mediapipe.tasks.python import BaseOptions, vision

        self.static = static
        self.min_confidence = float(min_confidence)
        mode = vision.RunningMode.IMAGE if static else vision.RunningMode.VIDEO
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=mode,
            num_faces=int(max_faces),
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True,
        )
        try:
            with native_stderr_silenced():
                self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except Exception as exc:  # mediapipe raises RuntimeError/ValueError with a C++ message
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"cannot load MediaPipe FaceLandmarker model {path}: {first}; "
                "pass a valid face_landmarker.task bundle or landmarks='facemesh'"
            ) from None
        self._last_ts = -1

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[FaceLandmarks]:
        """Faces with blendshapes; VIDEO mode needs increasing timestamps (enforced here)."""
        import mediapipe as mp

        rgb = check_rgb(rgb)
        h, w = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self.static:
            result = self._landmarker.detect(image)
        else:
            ts = max(int(timestamp_ms), self._last_ts + 1)  # MediaPipe rejects non-increasing times
            self._last_ts = ts
            result = self._landmarker.detect_for_video(image, ts)
        faces = []
        for i, lms in enumerate(result.face_landmarks):
            face = to_face(lms, w, h, self.min_confidence)
            shapes = None
            if result.face_blendshapes and i < len(result.face_blendshapes):
                shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            faces.append(FaceLandmarks(face.points, face.z, face.confidence, face.box, shapes))
        return faces

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
