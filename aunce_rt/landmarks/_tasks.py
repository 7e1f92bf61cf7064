"""`TasksBackend`: MediaPipe Tasks ``FaceLandmarker`` from a ``.task`` bundle (adds blendshapes).

Confidence: ``FaceLandmarkerResult`` carries no per-face score (the landmarks'
``presence`` and ``visibility`` are 0), so, as FaceMesh does, a face's
confidence is the score of a BlazeFace detection that overlaps it: the
bundle's own ``face_detector.tflite`` (the detector the landmarker runs), run
through the Tasks ``FaceDetector``. Still images run it on every image; video
runs it only on frames where a face matches none of the previous frame's scored
faces and otherwise carries the matched face's score over. A face no detection
overlaps (or a bundle without a detector) gets ``min_confidence``, the
presence threshold it passed.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from aunce_rt.boxes import box_iou
from aunce_rt.errors import ModelError
from aunce_rt.landmarks._face import FaceLandmarks, check_rgb, to_face
from aunce_rt.landmarks._native import native_stderr_silenced

logger = logging.getLogger(__name__)

_DETECTOR_MEMBER = "face_detector.tflite"  # the BlazeFace model inside a face_landmarker.task
_MATCH_IOU = 0.2  # a detection and a landmark box of one face overlap at least this much


def _bundled_detector(path: Path, min_confidence: float) -> Any:
    """A Tasks FaceDetector (IMAGE mode) on the bundle's own face detector, or None when absent."""
    from mediapipe.tasks.python import BaseOptions, vision

    try:
        with zipfile.ZipFile(path) as bundle:
            model = bundle.read(_DETECTOR_MEMBER)
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min_confidence,
        )
        with native_stderr_silenced():
            return vision.FaceDetector.create_from_options(options)
    except (KeyError, OSError, RuntimeError, ValueError, zipfile.BadZipFile) as exc:
        logger.debug("no face detector in %s (%s); faces get confidence %.2f", path, exc, min_confidence)
        return None


def _detections(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """A Tasks FaceDetectorResult -> boxes (D, 4) ``x1, y1, x2, y2`` pixels and scores (D,)."""
    boxes, scores = [], []
    for det in result.detections:
        bb = det.bounding_box
        boxes.append([bb.origin_x, bb.origin_y, bb.origin_x + bb.width, bb.origin_y + bb.height])
        scores.append(det.categories[0].score if det.categories else 0.0)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32)


def _matched_scores(
    boxes: np.ndarray, other_boxes: np.ndarray, other_scores: np.ndarray
) -> list[float | None]:
    """Per box (N, 4), the score of the most overlapping other box (M, 4), or None below _MATCH_IOU."""
    if not len(boxes) or not len(other_boxes):
        return [None] * len(boxes)
    iou = box_iou(boxes, other_boxes)  # (N, M)
    return [
        float(other_scores[j]) if row[j] > _MATCH_IOU else None
        for row, j in zip(iou, iou.argmax(1), strict=True)
    ]


class TasksBackend:
    """MediaPipe Tasks FaceLandmarker from a ``.task`` bundle, with blendshapes.

    Args:
        model_path: the ``face_landmarker.task`` file.
        static: IMAGE running mode when True, VIDEO (tracking) when False.
        max_faces: most faces per frame.
        min_confidence: detection, presence and tracking thresholds; also the
            confidence of a face no detection overlaps (see the module docstring).
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
        self._path, self._options = path, options
        self._landmarker: Any = self._create()
        self._detector = _bundled_detector(path, self.min_confidence)
        self._prev_boxes = np.zeros((0, 4), np.float32)  # video: last frame's faces and scores
        self._prev_scores = np.zeros(0, np.float32)
        self._last_ts = -1

    def _create(self) -> Any:
        from mediapipe.tasks.python import vision

        try:
            with native_stderr_silenced():
                return vision.FaceLandmarker.create_from_options(self._options)
        except Exception as exc:  # mediapipe raises RuntimeError/ValueError with a C++ message
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"cannot load MediaPipe FaceLandmarker model {self._path}: {first}; "
                "pass a valid face_landmarker.task bundle or landmarks='facemesh'"
            ) from None

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
        located = [to_face(lms, w, h, self.min_confidence) for lms in result.face_landmarks]
        boxes = np.array([face.box for face in located], np.float32).reshape(-1, 4)
        scores = self._scores(image, boxes)
        faces = []
        for i, (face, score) in enumerate(zip(located, scores, strict=True)):
            shapes = None
            if result.face_blendshapes and i < len(result.face_blendshapes):
                shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            faces.append(FaceLandmarks(face.points, face.z, score, face.box, shapes))
        return faces

    def _scores(self, image: Any, boxes: np.ndarray) -> list[float]:
        """Each face's confidence: its detection score (see the module docstring)."""
        scores: list[float | None] = (
            [None] * len(boxes)
            if self.static
            else _matched_scores(boxes, self._prev_boxes, self._prev_scores)
        )
        if self._detector is not None and any(s is None for s in scores):
            det_boxes, det_scores = _detections(self._detector.detect(image))
            detected = _matched_scores(boxes, det_boxes, det_scores)
            scores = [s if s is not None else d for s, d in zip(scores, detected, strict=True)]
        if not self.static:  # carry over detection scores only: a face without one is looked up again
            scored = [i for i, s in enumerate(scores) if s is not None]
            self._prev_boxes = boxes[scored]
            self._prev_scores = np.array([scores[i] for i in scored], np.float32)
        return [s if s is not None else self.min_confidence for s in scores]

    def reset(self) -> None:
        """Start a new stream; in VIDEO mode the landmarker is rebuilt (the Tasks API cannot
        reset its tracking, and a new stream's timestamps start again)."""
        self._prev_boxes = np.zeros((0, 4), np.float32)
        self._prev_scores = np.zeros(0, np.float32)
        if not self.static and self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
            self._landmarker = self._create()
            self._last_ts = -1

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
