"""`FaceMeshBackend`: MediaPipe's legacy FaceMesh (bundled in the mediapipe wheel).

Video, camera and streams run the FaceMesh graph in tracking mode; still images
run the full-range face detector and then FaceMesh on a crop around each
detection (see the package docstring for why, and for the confidence). When a
still image yields no face, the retry of ``_retry`` (short-range detector, then a
padded image) runs before giving up; video never retries.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import numpy as np

from aunce_rt.boxes import box_iou
from aunce_rt.errors import InputError
from aunce_rt.landmarks._face import FaceLandmarks, check_rgb, to_face
from aunce_rt.landmarks._native import native_logs_quiet, native_stderr_silenced
from aunce_rt.landmarks._retry import pad_replicate, shift_faces

logger = logging.getLogger(__name__)

_DET_PARAM = "facedetectionshortrangecpu__facedetectionshortrange__facedetection__TensorsToDetectionsCalculator.min_score_thresh"
_TRACK_PARAM = "facelandmarkcpu__ThresholdingCalculator.threshold"
UNCONFIRMED_DECAY = 0.85  # confidence factor of a tracked face a re-detection does not confirm
CONFIRM_SCORE = 0.3  # a full-range detection this sure confirms a tracked face (adding one takes 0.5)


def _covers(face_box: np.ndarray, det_boxes: np.ndarray) -> np.ndarray:
    """(D,) True where detection d overlaps the face (IoU > 0.2 or its centre inside the face's box)."""
    if not len(det_boxes):
        return np.zeros(0, bool)
    centres = (det_boxes[:, :2] + det_boxes[:, 2:]) / 2
    inside = np.all((centres >= face_box[:2]) & (centres <= face_box[2:]), axis=1)
    return inside | (box_iou(face_box[None], det_boxes)[0] > 0.2)


def _detection_boxes(detections: Any, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe detections -> boxes (D, 4) pixels and scores (D,)."""
    boxes, scores = [], []
    for det in detections or []:
        rb = det.location_data.relative_bounding_box
        x1, y1 = rb.xmin * width, rb.ymin * height
        boxes.append([x1, y1, x1 + rb.width * width, y1 + rb.height * height])
        scores.append(det.score[0] if len(det.score) else 0.0)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32)


def _still_pair(min_detection_confidence: float) -> tuple[Any, Any]:
    """A full-range face detector and a one-face still-image FaceMesh (refined: 478 points)."""
    from mediapipe.python.solutions import face_detection, face_mesh

    detector = face_detection.FaceDetection(
        model_selection=1, min_detection_confidence=min_detection_confidence
    )
    mesh = face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
    )
    return detector, mesh


class FaceMeshBackend:
    """MediaPipe legacy FaceMesh (478 points, refine_landmarks=True).

    Args:
        static: True for unrelated still images (detector + FaceMesh per face),
            False for video (FaceMesh graph in tracking mode).
        max_faces: most faces returned per frame.
        min_detection_confidence: face detector score threshold.
        min_tracking_confidence: landmark presence threshold (tracking mode).
        retry: still images only: when the normal attempt finds no face, retry
            with the short-range detector and then on a padded image (the rule
            in ``aunce_rt.landmarks._retry``) before giving up.
        redetect_every: video only: every this many frames, and on a frame with
            fewer faces than the one before, the full-range face detector runs on
            the whole frame (0 = never). A face it finds that the graph does not
            track (the graph detects only while it tracks fewer than ``max_faces``,
            and only with the short-range model) is meshed on a crop and then
            followed frame to frame on crops until the graph picks it up. A tracked
            face that neither a full-range detection (score >= ``CONFIRM_SCORE``)
            overlaps nor the face detector of FaceMesh finds on a crop twice its
            size has its confidence multiplied by ``UNCONFIRMED_DECAY`` (a torso or
            a mug fades below the score gate of ``aunce_rt.screening``; a real face
            is confirmed again as soon as one of the two finds it).
    """

    def __init__(
        self,
        *,
        static: bool,
        max_faces: int = 4,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        retry: bool = True,
        redetect_every: int = 10,
    ) -> None:
        if max_faces < 1:
            raise InputError(f"max_faces must be >= 1; got {max_faces}")
        from mediapipe.python.solution_base import SolutionBase
        from mediapipe.python.solutions import face_mesh

        self.static = static
        self.max_faces = int(max_faces)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.min_detection_confidence = float(min_detection_confidence)
        self.retry = bool(retry) and static
        self.last_retry_ms = 0.0  # time the last still image spent in retries (0 when none ran)
        self._short_range: Any = None  # made on the first retry
        self._prev: list[FaceLandmarks] = []
        self._doubt: list[float] = []  # per face of _prev: confidence factor from re-detections
        self.redetect_every = max(int(redetect_every), 0) if not static else 0
        self._frame = 0
        self._extra: list[FaceLandmarks] = []  # faces followed on crops (video re-detection)
        self._full: Any = None  # full-range detector and one-face mesh for re-detection, made lazily
        self._crop_mesh: Any = None
        self._warm = False  # the first frame logs natively too (see aunce_rt.landmarks._native)
        with native_stderr_silenced():
            if static:
                self._detector, self._mesh = _still_pair(min_detection_confidence)
            else:
                self._detector = None
                # The stock FaceMesh class outputs landmarks only; the same graph also
                # outputs its detections, whose scores give an honest confidence.
                self._mesh = SolutionBase(
                    binary_graph_path=face_mesh._BINARYPB_FILE_PATH,
                    side_inputs={
                        "num_faces": self.max_faces,
                        "with_attention": True,
                        "use_prev_landmarks": True,
                    },
                    calculator_params={
                        _DET_PARAM: min_detection_confidence,
                        _TRACK_PARAM: min_tracking_confidence,
                    },
                    outputs=["multi_face_landmarks", "face_detections"],
                )
            if native_logs_quiet():  # let the graphs open (and log) inside the silenced window
                self._warm_up()

    def _warm_up(self) -> None:
        """One blank frame through each graph: MediaPipe opens its calculators on its own threads."""
        blank = np.zeros((64, 64, 3), np.uint8)
        if self._detector is not None:
            self._detector.process(blank)
            self._mesh.process(blank)
        else:
            self._mesh.process({"image": blank})

    def process(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[FaceLandmarks]:
        """Faces in an RGB frame, at most ``max_faces``, largest first in static mode."""
        rgb = check_rgb(rgb)
        first, self._warm = not self._warm, True
        with native_stderr_silenced() if first else contextlib.nullcontext():
            return self._process_static(rgb) if self.static else self._process_tracking(rgb)

    def _process_tracking(self, rgb: np.ndarray) -> list[FaceLandmarks]:
        h, w = rgb.shape[:2]
        out = self._mesh.process({"image": rgb})
        faces = [to_face(lm.landmark, w, h, 0.0) for lm in out.multi_face_landmarks or []]
        det_boxes, det_scores = _detection_boxes(out.face_detections, w, h)
        result, doubt = [], []
        prev_boxes = np.stack([p.box for p in self._prev]) if self._prev else np.zeros((0, 4), np.float32)
        for face in faces:
            conf, factor = self.min_tracking_confidence, 1.0
            prev_iou = box_iou(face.box[None], prev_boxes)[0] if len(prev_boxes) else np.zeros(0)
            if len(prev_iou) and prev_iou.max() > 0.2:
                factor = self._doubt[int(prev_iou.argmax())]
            if len(det_boxes):
                iou = box_iou(face.box[None], det_boxes)[0]
                if iou.max() > 0.2:
                    conf = float(det_scores[iou.argmax()])
            elif len(prev_iou) and prev_iou.max() > 0.2:
                conf = self._prev[int(prev_iou.argmax())].confidence / max(factor, 1e-6)
            result.append(FaceLandmarks(face.points, face.z, conf, face.box))
            doubt.append(factor)
        self._frame += 1
        if self.redetect_every:
            result, doubt = self._follow_extras(rgb, result, doubt)
            due = self._frame % self.redetect_every == 1 or len(result) < len(self._prev)
            if due:
                result, doubt = self._redetect(rgb, result, doubt)
        result = [
            FaceLandmarks(f.points, f.z, f.confidence * k, f.box) if k != 1.0 else f
            for f, k in zip(result, doubt, strict=True)
        ]
        self._prev, self._doubt = result, doubt
        return result

    def _full_range(self) -> tuple[Any, Any]:
        if self._full is None:
            with native_stderr_silenced():
                self._full, self._crop_mesh = _still_pair(CONFIRM_SCORE)
        return self._full, self._crop_mesh

    def _mesh_crop(self, rgb: np.ndarray, box: np.ndarray, score: float) -> FaceLandmarks | None:
        """One face meshed on a crop twice the size of ``box`` (None when the mesh finds none)."""
        h, w = rgb.shape[:2]
        x1, y1, x2, y2 = box
        cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 2.0
        ox, oy = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
        ex, ey = int(min(cx + side / 2, w)), int(min(cy + side / 2, h))
        if ex - ox < 8 or ey - oy < 8:
            return None
        found = self._full_range()[1].process(np.ascontiguousarray(rgb[oy:ey, ox:ex])).multi_face_landmarks
        return to_face(found[0].landmark, ex - ox, ey - oy, score, (ox, oy)) if found else None

    def _confirmed_on_crop(self, rgb: np.ndarray, face: FaceLandmarks) -> bool:
        """Whether a crop twice the face's size shows a face there (its detector runs at the crop's scale)."""
        found = self._mesh_crop(rgb, face.box, 0.0)
        return found is not None and box_iou(found.box[None], face.box[None])[0, 0] > 0.3

    def _follow_extras(
        self, rgb: np.ndarray, result: list[FaceLandmarks], doubt: list[float]
    ) -> tuple[list[FaceLandmarks], list[float]]:
        """Faces found by re-detection, followed on crops until the graph tracks them."""
        extras = []
        for face in self._extra:
            if result and box_iou(face.box[None], np.stack([r.box for r in result])).max() > 0.3:
                continue  # the graph tracks it now
            found = self._mesh_crop(rgb, face.box, face.confidence)
            if found is not None:
                extras.append(found)
        self._extra = extras
        return result + extras, doubt + [1.0] * len(extras)

    def _redetect(
        self, rgb: np.ndarray, result: list[FaceLandmarks], doubt: list[float]
    ) -> tuple[list[FaceLandmarks], list[float]]:
        """Full-range detection: confirm tracked faces, add the ones nothing tracks."""
        h, w = rgb.shape[:2]
        boxes, scores = _detection_boxes(self._full_range()[0].process(rgb).detections, w, h)
        doubt = list(doubt)
        covered = np.zeros(len(boxes), bool)
        for i, face in enumerate(result):
            hit = _covers(face.box, boxes)
            covered |= hit
            if hit.any() or self._confirmed_on_crop(rgb, face):
                doubt[i] = 1.0
            else:
                doubt[i] *= UNCONFIRMED_DECAY
        for j in np.argsort(-scores):
            if covered[j] or len(result) >= self.max_faces or scores[j] < self.min_detection_confidence:
                continue
            found = self._mesh_crop(rgb, boxes[j], float(scores[j]))
            tracked = np.stack([r.box for r in result]) if result else np.zeros((0, 4), np.float32)
            if found is not None and not _covers(found.box, tracked).any():
                result.append(found)
                doubt.append(1.0)
                self._extra.append(found)
        return result, doubt

    def _process_static(self, rgb: np.ndarray) -> list[FaceLandmarks]:
        self.last_retry_ms = 0.0
        faces = self._detect_then_mesh(rgb, self._detector)
        if faces or not self.retry:
            return faces
        t0 = time.perf_counter()
        faces = self._retry(rgb)
        self.last_retry_ms = (time.perf_counter() - t0) * 1e3
        logger.debug("no face at first; the retry found %d in %.1f ms", len(faces), self.last_retry_ms)
        return faces

    def _retry(self, rgb: np.ndarray) -> list[FaceLandmarks]:
        """The retry rule of ``aunce_rt.landmarks._retry``: short-range detector, then padding."""
        if self._short_range is None:
            from mediapipe.python.solutions import face_detection

            with native_stderr_silenced():
                self._short_range = face_detection.FaceDetection(
                    model_selection=0, min_detection_confidence=self.min_detection_confidence
                )
        faces = self._detect_then_mesh(rgb, self._short_range)
        if faces:
            return faces
        padded, offset = pad_replicate(rgb)
        return shift_faces(self._detect_then_mesh(padded, self._detector), offset)

    def _detect_then_mesh(self, rgb: np.ndarray, detector: Any) -> list[FaceLandmarks]:
        """``detector``'s faces, most confident first, each meshed on a crop twice its box."""
        h, w = rgb.shape[:2]
        boxes, scores = _detection_boxes(detector.process(rgb).detections, w, h)
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
                faces.append(to_face(found[0].landmark, ex - ox, ey - oy, scores[i], (ox, oy)))
        return _dedupe(faces)

    def reset(self) -> None:
        """Start a new stream: the tracking graph restarts (no landmarks seed the next frame)."""
        if not self.static and self._mesh is not None:
            self._mesh.reset()
            self._warm = False  # a restarted graph logs on its first frame again
        self._prev, self._doubt, self._extra = [], [], []
        self._frame = 0
        self.last_retry_ms = 0.0

    def close(self) -> None:
        for graph in (self._mesh, self._detector, self._short_range, self._full, self._crop_mesh):
            if graph is not None:
                graph.close()
        self._mesh = self._detector = self._short_range = self._full = self._crop_mesh = None


def _dedupe(faces: list[FaceLandmarks], iou_threshold: float = 0.5) -> list[FaceLandmarks]:
    """Drop faces whose landmark box overlaps a more confident one (two detections, one face)."""
    kept: list[FaceLandmarks] = []
    for face in sorted(faces, key=lambda f: -f.confidence):
        if not kept or box_iou(face.box[None], np.stack([k.box for k in kept])).max() < iou_threshold:
            kept.append(face)
    return kept
