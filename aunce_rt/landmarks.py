"""Face landmarks from MediaPipe, behind one small interface.

Two backends return the same ``FaceLandmarks`` (478 points, pixels):

* ``FaceMeshBackend`` (default, "facemesh"): MediaPipe's legacy FaceMesh, whose
  models ship inside the mediapipe wheel. For video/camera/streams it runs the
  FaceMesh graph in tracking mode (landmarks of frame t seed frame t+1). For
  still images it runs MediaPipe's full-range face detector and then FaceMesh on
  a crop around each detection: the stock graph merges the enlarged boxes of
  neighbouring faces and loses small ones, so group photos would lose faces.
* ``TasksBackend`` (a ``.task`` file): MediaPipe Tasks ``FaceLandmarker``, which
  adds the 52 blendshape scores.

Confidence (MediaPipe's legacy graph exposes no per-face landmark score):
FaceMesh's confidence is the score of the BlazeFace detection that found the
face (matched by box overlap; in tracking mode, when no detection ran on this
frame, the last matched score of the same face is carried over). A face with no
detection score yet gets the tracking threshold, the lower bound its landmark
presence score passed. The Tasks API exposes no score either: its faces get the
presence threshold they passed (``min_face_presence_confidence``).

Example:
    >>> backend = create_backend("facemesh", static=True, max_faces=2)  # doctest: +SKIP
    >>> faces = backend.process(rgb, timestamp_ms=0)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aunce_rt.errors import InputError, ModelError

logger = logging.getLogger(__name__)

NUM_LANDMARKS = 478
_DET_PARAM = "facedetectionshortrangecpu__facedetectionshortrange__facedetection__TensorsToDetectionsCalculator.min_score_thresh"
_TRACK_PARAM = "facelandmarkcpu__ThresholdingCalculator.threshold"


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

    def close(self) -> None:
        """Release the MediaPipe graph."""
        ...


def most_confident_face(
    backend: LandmarkBackend, image_bgr: np.ndarray, timestamp_ms: int = 0
) -> FaceLandmarks | None:
    """The most confident face ``backend`` finds in a BGR frame, or None when it finds none."""
    faces = backend.process(np.ascontiguousarray(image_bgr[:, :, ::-1]), timestamp_ms)
    return max(faces, key=lambda f: f.confidence) if faces else None


def box_of(points: np.ndarray) -> np.ndarray:
    """Bounding box (4,) float32 ``x1, y1, x2, y2`` of points (L, 2)."""
    return np.concatenate([points.min(axis=0), points.max(axis=0)]).astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a (A, 4) and b (B, 4) -> (A, B)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def _to_face(landmarks: Any, width: int, height: int, confidence: float, offset=(0.0, 0.0)) -> FaceLandmarks:
    """MediaPipe normalised landmarks (of an image width x height, placed at offset) -> FaceLandmarks."""
    arr = np.array([(p.x, p.y, p.z) for p in landmarks], dtype=np.float32)  # (478, 3) normalised
    pts = arr[:, :2] * np.array([width, height], np.float32) + np.asarray(offset, np.float32)
    z = arr[:, 2] * width
    return FaceLandmarks(points=pts, z=z, confidence=float(confidence), box=box_of(pts))


def _detection_boxes(detections: Any, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe detections -> boxes (D, 4) pixels and scores (D,)."""
    boxes, scores = [], []
    for det in detections or []:
        rb = det.location_data.relative_bounding_box
        x1, y1 = rb.xmin * width, rb.ymin * height
        boxes.append([x1, y1, x1 + rb.width * width, y1 + rb.height * height])
        scores.append(det.score[0] if len(det.score) else 0.0)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        got = getattr(rgb, "shape", type(rgb).__name__), getattr(rgb, "dtype", "")
        raise InputError(f"landmarks need an (H, W, 3) uint8 RGB image; got {got}")
    return np.ascontiguousarray(rgb)


class FaceMeshBackend:
    """MediaPipe legacy FaceMesh (478 points, refine_landmarks=True).

    Args:
        static: True for unrelated still images (detector + FaceMesh per face),
            False for video (FaceMesh graph in tracking mode).
        max_faces: most faces returned per frame.
        min_detection_confidence: face detector score threshold.
        min_tracking_confidence: landmark presence threshold (tracking mode).
    """

    def __init__(
        self,
        *,
        static: bool,
        max_faces: int = 4,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        if max_faces < 1:
            raise InputError(f"max_faces must be >= 1; got {max_faces}")
        from mediapipe.python.solution_base import SolutionBase
        from mediapipe.python.solutions import face_detection, face_mesh

        self.static = static
        self.max_faces = int(max_faces)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self._prev: list[FaceLandmarks] = []
        if static:
            self._detector = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=min_detection_confidence
            )
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
            )
        else:
            self._detector = None
            # The stock FaceMesh class outputs landmarks only; the same graph also
            # outputs its detections, whose scores give an honest confidence.
            self._mesh = SolutionBase(
                binary_graph_path=face_mesh._BINARYPB_FILE_PATH,
                side_inputs={"num_faces": self.max_faces, "with_attention": True, "use_prev_landmarks": True},
                calculator_params={
                    _DET_PARAM: min_detection_confidence,
                    _TRACK_PARAM: min_tracking_confidence,
                },
                outputs=["multi_face_landmarks", "face_detections"],
            )

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[FaceLandmarks]:
        """Faces in an RGB frame, at most ``max_faces``, largest first in static mode."""
        rgb = _check_rgb(rgb)
        return self._process_static(rgb) if self.static else self._process_tracking(rgb)

    def _process_tracking(self, rgb: np.ndarray) -> list[FaceLandmarks]:
        h, w = rgb.shape[:2]
        out = self._mesh.process({"image": rgb})
        faces = [_to_face(lm.landmark, w, h, 0.0) for lm in out.multi_face_landmarks or []]
        det_boxes, det_scores = _detection_boxes(out.face_detections, w, h)
        result = []
        for face in faces:
            conf = self.min_tracking_confidence
            if len(det_boxes):
                iou = box_iou(face.box[None], det_boxes)[0]
                if iou.max() > 0.2:
                    conf = float(det_scores[iou.argmax()])
            elif self._prev:
                iou = box_iou(face.box[None], np.stack([p.box for p in self._prev]))[0]
                if iou.max() > 0.2:
                    conf = self._prev[int(iou.argmax())].confidence
            result.append(FaceLandmarks(face.points, face.z, conf, face.box))
        self._prev = result
        return result

    def _process_static(self, rgb: np.ndarray) -> list[FaceLandmarks]:
        h, w = rgb.shape[:2]
        boxes, scores = _detection_boxes(self._detector.process(rgb).detections, w, h)
        order = np.argsort(-scores)[: self.max_faces]
        faces = []
        for i in order:
            x1, y1, x2, y2 = boxes[i]
            cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 2.0
            ox, oy = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
            ex, ey = int(min(cx + side / 2, w)), int(min(cy + side / 2, h))
            if ex - ox < 8 or ey - oy < 8:
                continue
            crop = np.ascontiguousarray(rgb[oy:ey, ox:ex])
            found = self._mesh.process(crop).multi_face_landmarks
            if found:
                faces.append(_to_face(found[0].landmark, ex - ox, ey - oy, scores[i], (ox, oy)))
        return _dedupe(faces)

    def close(self) -> None:
        for graph in (self._mesh, self._detector):
            if graph is not None:
                graph.close()
        self._mesh = self._detector = None


def _dedupe(faces: list[FaceLandmarks], iou_threshold: float = 0.5) -> list[FaceLandmarks]:
    """Drop faces whose landmark box overlaps a more confident one (two detections, one face)."""
    kept: list[FaceLandmarks] = []
    for face in sorted(faces, key=lambda f: -f.confidence):
        if not kept or box_iou(face.box[None], np.stack([k.box for k in kept])).max() < iou_threshold:
            kept.append(face)
    return kept


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

        rgb = _check_rgb(rgb)
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
            face = _to_face(lms, w, h, self.min_confidence)
            shapes = None
            if result.face_blendshapes and i < len(result.face_blendshapes):
                shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]}
            faces.append(FaceLandmarks(face.points, face.z, face.confidence, face.box, shapes))
        return faces

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None


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
