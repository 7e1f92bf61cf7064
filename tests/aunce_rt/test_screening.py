"""Tests of aunce_rt.screening: duplicates of one face and non-faces are dropped."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aunce_rt.boxes import box_of
from aunce_rt.landmarks import FaceMeshBackend
from aunce_rt.landmarks._face import FaceLandmarks
from aunce_rt.screening import dedupe_faces, plausibility, screen_faces


@pytest.fixture(scope="module")
def real_face(shared_data) -> FaceLandmarks:
    """FaceMesh landmarks of the face in single_face.jpg (a real point layout to perturb)."""
    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    backend = FaceMeshBackend(static=True, max_faces=1)
    try:
        return backend.process(np.ascontiguousarray(image[:, :, ::-1]), 0)[0]
    finally:
        backend.close()


def _face(points: np.ndarray, confidence: float = 0.9, like: FaceLandmarks | None = None) -> FaceLandmarks:
    z = like.z if like is not None else np.zeros(len(points), np.float32)
    pts = np.asarray(points, np.float32)
    return FaceLandmarks(points=pts, z=z, confidence=confidence, box=box_of(pts))


def _moved(face: FaceLandmarks, dx: float, dy: float = 0.0, confidence: float | None = None) -> FaceLandmarks:
    conf = face.confidence if confidence is None else confidence
    return _face(face.points + np.array([dx, dy], np.float32), conf, face)


def test_a_real_face_passes(real_face) -> None:
    assert plausibility(real_face.points) is None
    assert screen_faces([real_face]) == ([real_face], 0)


def test_synthetic_duplicate_keeps_the_more_confident(real_face) -> None:
    size = float(real_face.box[2] - real_face.box[0])
    weak = _moved(real_face, 0.02 * size, confidence=0.6)  # the same face, a second time
    strong = _moved(real_face, 0.0, confidence=0.95)
    other = _moved(real_face, 3 * size, confidence=0.7)  # another face beside it
    kept = dedupe_faces([weak, other, strong])
    assert kept == [other, strong]


def test_duplicate_by_landmark_distance_with_low_box_overlap(real_face) -> None:
    """A second, slightly smaller mesh of one face: box IoU under 0.5, points close."""
    c = real_face.points.mean(0)
    shrunk = _face((real_face.points - c) * 0.7 + c, 0.8, real_face)
    from aunce_rt.boxes import box_iou

    assert box_iou(shrunk.box[None], real_face.box[None])[0, 0] < 0.5
    assert dedupe_faces([shrunk, real_face]) == [real_face]
    assert len(dedupe_faces([shrunk, real_face], distance_threshold=0.0)) == 2


def test_low_score_is_not_reported(real_face) -> None:
    faint = _moved(real_face, 0.0, confidence=0.3)
    assert screen_faces([faint]) == ([], 1)


def _stretched(face: FaceLandmarks, sx: float, sy: float) -> FaceLandmarks:
    c = face.points.mean(0)
    return _face((face.points - c) * np.array([sx, sy], np.float32) + c, 0.9, face)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("torso: a wide flat blob", lambda f: _stretched(f, 2.5, 0.8)),
        ("tall thin thing (a bottle)", lambda f: _stretched(f, 0.35, 1.2)),
        ("upside down", lambda f: _stretched(f, 1.0, -1.0)),
        ("mirrored", lambda f: _stretched(f, -1.0, 1.0)),
        ("collapsed to a few pixels", lambda f: _stretched(f, 0.02, 0.02)),
        ("mouth on the eye line", lambda f: _face(_squash_mouth(f.points), 0.9, f)),
        ("not finite", lambda f: _face(np.full_like(f.points, np.nan), 0.9, f)),
    ],
)
def test_implausible_landmark_sets_are_rejected(real_face, name, make) -> None:
    bad = make(real_face)
    assert plausibility(bad.points) is not None, name
    assert screen_faces([bad, real_face]) == ([real_face], 1)


def _squash_mouth(points: np.ndarray) -> np.ndarray:
    """The lower face folded up onto the eye line (a mesh regressed onto something face-less)."""
    out = points.copy()
    eye_y = points[[33, 263], 1].mean()
    low = out[:, 1] > eye_y
    out[low, 1] = eye_y + (out[low, 1] - eye_y) * 0.1
    return out
