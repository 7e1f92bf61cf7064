"""The still-image retry for faces in tight crops (aunce_rt.landmarks._retry)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aunce_rt.boxes import box_of
from aunce_rt.landmarks import FaceLandmarks, FaceMeshBackend
from aunce_rt.landmarks._retry import RETRY_PAD, pad_replicate, shift_faces

PHOTO = Path("faces_cc") / "london" / "neutral" / "001.jpg"


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _tight_crop(rgb: np.ndarray) -> np.ndarray:
    """The face of a full photo as aligned sets store it: its landmark box, 48 px grey, shown x4."""
    backend = FaceMeshBackend(static=True, max_faces=1)
    try:
        (face,) = backend.process(rgb, 0)
    finally:
        backend.close()
    x1, y1, x2, y2 = face.box.round().astype(int)
    crop = cv2.resize(rgb[y1:y2, x1:x2], (48, 48), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.resize(grey, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)


def test_pad_and_shift_map_back_to_the_original_pixels():
    rgb = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    padded, (ox, oy) = pad_replicate(rgb, 0.5)
    assert (ox, oy) == (20, 20) and padded.shape == (70, 80, 3)
    np.testing.assert_array_equal(padded[oy : oy + 30, ox : ox + 40], rgb)
    np.testing.assert_array_equal(padded[0, 0], rgb[0, 0])  # replicated corner
    # a face whose points are the original pixels (5, 7) and (39, 29), seen in the padded image
    points = np.array([[5, 7], [39, 29]] * 239, np.float32) + np.array([ox, oy], np.float32)
    face = FaceLandmarks(points, np.arange(478, dtype=np.float32), 0.8, box_of(points))
    (back,) = shift_faces([face], (ox, oy))
    np.testing.assert_allclose(back.points[:2], [[5, 7], [39, 29]])
    np.testing.assert_allclose(back.box, [5, 7, 39, 29])
    np.testing.assert_array_equal(back.z, face.z)  # depth is not moved
    assert back.confidence == 0.8 and back.points.dtype == np.float32
    assert shift_faces([], (ox, oy)) == []
    assert RETRY_PAD == 0.5


def test_tight_crop_missed_at_first_is_found_by_the_retry(shared_data):
    image = _tight_crop(_rgb(shared_data / PHOTO))
    h, w = image.shape[:2]
    first = FaceMeshBackend(static=True, max_faces=4, retry=False)
    retrying = FaceMeshBackend(static=True, max_faces=4)
    try:
        assert first.process(image, 0) == []  # the normal attempt misses this close-up
        faces = retrying.process(image, 0)
        retry_ms = retrying.last_retry_ms
    finally:
        first.close()
        retrying.close()
    assert len(faces) == 1 and retry_ms > 0
    face = faces[0]
    assert 0.5 <= face.confidence <= 1.0
    x1, y1, x2, y2 = face.box
    assert -0.05 * w <= x1 < x2 <= 1.05 * w and -0.05 * h <= y1 < y2 <= 1.05 * h
    assert (x2 - x1) > 0.6 * w  # the face fills the crop
    pts = face.points
    assert pts[33, 1] < pts[13, 1] and pts[33, 0] < pts[263, 0]  # eyes above the mouth, left of right


def test_the_padded_retry_maps_landmarks_back(shared_data):
    """The second retry (padding) alone: landmarks agree with the crop's own face position."""
    image = _tight_crop(_rgb(shared_data / PHOTO))
    backend = FaceMeshBackend(static=True, max_faces=1)
    try:
        padded, offset = pad_replicate(image)
        in_padded = backend._detect_then_mesh(padded, backend._detector)
        faces = shift_faces(in_padded, offset)
    finally:
        backend.close()
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    h, w = image.shape[:2]
    assert -0.05 * w <= x1 < x2 <= 1.05 * w and -0.05 * h <= y1 < y2 <= 1.05 * h


def _no_face_images(shared_data: Path) -> list[np.ndarray]:
    mountain = _rgb(shared_data / "images" / "free-mountain-vector-01.jpg")
    images = [
        mountain,
        np.ascontiguousarray(mountain[:540, :540]),
        np.ascontiguousarray(mountain[540:, 1380:]),
    ]
    cap = cv2.VideoCapture(str(shared_data / "video" / "no_face.mp4"))
    try:
        for index in range(0, 98, 12):
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            if ok:
                images.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    return images


def test_the_retry_invents_no_face(shared_data):
    images = _no_face_images(shared_data)
    assert len(images) >= 8
    backend = FaceMeshBackend(static=True, max_faces=4)
    try:
        for image in images:
            assert backend.process(image, 0) == []
            assert backend.last_retry_ms > 0  # the retry did run
    finally:
        backend.close()


def test_the_normal_path_is_unchanged_when_it_finds_faces(shared_data):
    rgb = _rgb(shared_data / "images" / "multi_face.jpg")
    with_retry = FaceMeshBackend(static=True, max_faces=8)
    without = FaceMeshBackend(static=True, max_faces=8, retry=False)
    try:
        a, b = with_retry.process(rgb, 0), without.process(rgb, 0)
        assert with_retry.last_retry_ms == 0.0
    finally:
        with_retry.close()
        without.close()
    assert len(a) == len(b) == 5
    for fa, fb in zip(a, b, strict=True):
        np.testing.assert_array_equal(fa.points, fb.points)
        assert fa.confidence == fb.confidence


def test_video_never_retries():
    backend = FaceMeshBackend(static=False, max_faces=1)
    try:
        assert backend.retry is False
        assert backend.process(np.zeros((96, 96, 3), np.uint8), 0) == []
        assert backend.last_retry_ms == 0.0
    finally:
        backend.close()


@pytest.mark.parametrize("retry", [True, False])
def test_blank_image_stays_empty(retry):
    backend = FaceMeshBackend(static=True, max_faces=1, retry=retry)
    try:
        assert backend.process(np.full((120, 160, 3), 128, np.uint8), 0) == []
    finally:
        backend.close()
