"""MediaPipe landmark backends on real faces from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aunce_rt.errors import InputError, ModelError
from aunce_rt.landmarks import FaceLandmarks, box_iou, box_of, create_backend, most_confident_face


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _video_frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def _check_face(face: FaceLandmarks, width: int, height: int) -> None:
    assert face.points.shape == (478, 2) and face.points.dtype == np.float32
    assert face.z.shape == (478,)
    assert 0.0 < face.confidence <= 1.0
    np.testing.assert_allclose(face.box, box_of(face.points))
    x1, y1, x2, y2 = face.box
    assert -0.2 * width < x1 < x2 < 1.2 * width and -0.2 * height < y1 < y2 < 1.2 * height


def test_box_helpers():
    pts = np.array([[1, 2], [5, 3], [3, 8]], np.float32)
    np.testing.assert_array_equal(box_of(pts), [1, 2, 5, 8])
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 50 / 150, 0.0])


def test_static_single_face(shared_data):
    rgb = _rgb(shared_data / "images" / "single_face.jpg")
    backend = create_backend("facemesh", static=True, max_faces=4)
    try:
        faces = backend.process(rgb, 0)
    finally:
        backend.close()
    assert len(faces) == 1
    _check_face(faces[0], rgb.shape[1], rgb.shape[0])
    assert faces[0].confidence > 0.5 and faces[0].blendshapes is None
    # the eyes lie above the mouth, the left eye (image left) left of the right eye
    pts = faces[0].points
    assert pts[33, 1] < pts[61, 1] and pts[33, 0] < pts[263, 0]


def test_static_group_photo_finds_every_face(shared_data):
    rgb = _rgb(shared_data / "images" / "multi_face.jpg")
    backend = create_backend("facemesh", static=True, max_faces=8)
    try:
        faces = backend.process(rgb, 0)
    finally:
        backend.close()
    assert len(faces) == 5  # the README's 5 faces, none merged with a neighbour
    boxes = np.stack([f.box for f in faces])
    iou = box_iou(boxes, boxes) - np.eye(5)
    assert iou.max() < 0.3
    for face in faces:
        _check_face(face, rgb.shape[1], rgb.shape[0])


def test_max_faces_and_no_face(shared_data):
    backend = create_backend("facemesh", static=True, max_faces=2)
    try:
        assert len(backend.process(_rgb(shared_data / "images" / "multi_face.jpg"), 0)) == 2
        assert backend.process(_rgb(shared_data / "images" / "free-mountain-vector-01.jpg"), 0) == []
    finally:
        backend.close()


def test_tracking_mode_on_video(shared_data):
    frames = _video_frames(shared_data / "video" / "single_face.mp4", 10)
    backend = create_backend("facemesh", static=False, max_faces=2)
    try:
        runs = [backend.process(f, i * 33) for i, f in enumerate(frames)]
    finally:
        backend.close()
    assert all(len(r) == 1 for r in runs)
    for r in runs:
        _check_face(r[0], frames[0].shape[1], frames[0].shape[0])
    # consecutive frames: the face barely moves
    assert box_iou(runs[0][0].box[None], runs[1][0].box[None])[0, 0] > 0.8


def test_rejects_non_rgb_input():
    backend = create_backend("facemesh", static=True, max_faces=1)
    try:
        with pytest.raises(InputError, match=r"\(H, W, 3\) uint8 RGB"):
            backend.process(np.zeros((64, 64), np.uint8), 0)
    finally:
        backend.close()


def test_unknown_backend_and_bad_task(tmp_path):
    with pytest.raises(InputError, match="unknown landmark backend"):
        create_backend("dlib", static=True)
    with pytest.raises(ModelError, match="not found"):
        create_backend(tmp_path / "absent.task", static=True)
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a task bundle")
    with pytest.raises(ModelError, match="cannot load MediaPipe FaceLandmarker model"):
        create_backend(bad, static=True)


def test_tasks_backend_blendshapes(landmarker_task, shared_data):
    frames = _video_frames(shared_data / "video" / "single_face.mp4", 3)
    backend = create_backend(landmarker_task, static=False, max_faces=1)
    try:
        # equal timestamps are made increasing (VIDEO mode requires it)
        runs = [backend.process(f, 0) for f in frames]
    finally:
        backend.close()
    face = runs[-1][0]
    _check_face(face, frames[0].shape[1], frames[0].shape[0])
    assert face.blendshapes is not None and len(face.blendshapes) == 52
    assert all(0.0 <= v <= 1.0 for v in face.blendshapes.values())
    # agrees with the reference made by mediapipe 1.2.2 with the same bundle (frame 2)
    ref_path = shared_data / "reference" / "mediapipe_blendshapes" / "single_face.mp4.blendshapes.csv"
    ref = np.genfromtxt(ref_path, delimiter=",", names=True)
    row = ref[ref["frame"] == 2][0]
    ours = np.array([face.blendshapes[k] for k in ref.dtype.names[1:]])
    theirs = np.array([row[k] for k in ref.dtype.names[1:]])
    assert np.abs(ours - theirs).max() < 0.15
    assert np.corrcoef(ours, theirs)[0, 1] > 0.9
    image_backend = create_backend(landmarker_task, static=True, max_faces=1)
    try:
        assert len(image_backend.process(frames[0], 0)) == 1
    finally:
        image_backend.close()


def test_most_confident_face_of_a_bgr_frame():
    def face(conf: float) -> FaceLandmarks:
        pts = np.full((478, 2), conf, np.float32)
        return FaceLandmarks(pts, np.zeros(478, np.float32), conf, np.zeros(4, np.float32))

    class Fake:
        def __init__(self, faces):
            self.faces, self.seen = faces, []

        def process(self, rgb, timestamp_ms=0):
            self.seen.append((rgb.copy(), timestamp_ms))
            return self.faces

        def close(self):
            pass

    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 0] = 255  # blue in BGR
    backend = Fake([face(0.3), face(0.9), face(0.5)])
    assert most_confident_face(backend, bgr, 40).confidence == 0.9
    rgb, ts = backend.seen[0]
    assert ts == 40 and rgb[..., 2].min() == 255 and rgb[..., 0].max() == 0  # handed over as RGB
    assert most_confident_face(Fake([]), bgr) is None


def test_tasks_backend_reports_the_detection_score(landmarker_task, shared_data):
    # Issue 16: every Tasks face had confidence == min_confidence (0.5); now its detection's score.
    rgb = np.ascontiguousarray(cv2.imread(str(shared_data / "images" / "single_face.jpg"))[:, :, ::-1])
    for static in (True, False):
        backend = create_backend(landmarker_task, static=static, max_faces=2, min_confidence=0.3)
        try:
            runs = [backend.process(rgb, ts) for ts in (0, 33, 66)]
        finally:
            backend.close()
        for faces in runs:
            assert len(faces) == 1, static
            assert 0.8 < faces[0].confidence <= 1.0, (static, faces[0].confidence)  # BlazeFace: ~0.9
        assert len({f[0].confidence for f in runs}) == 1  # same image, same score (video: carried over)


def test_reset_starts_a_new_stream(landmarker_task, shared_data):
    # AUDetector.stream reuses one backend per mode and resets it between streams (issue 16).
    frames = _video_frames(shared_data / "video" / "single_face.mp4", 2)
    for spec in ("facemesh", landmarker_task):
        fresh = create_backend(spec, static=False, max_faces=1)
        reused = create_backend(spec, static=False, max_faces=1)
        try:
            expected = [fresh.process(f, 40 * i)[0].points for i, f in enumerate(frames)]
            reused.process(np.zeros_like(frames[0]), 5000)  # another stream, later timestamps
            reused.process(frames[1], 5040)
            reused.reset()
            again = [reused.process(f, 40 * i)[0].points for i, f in enumerate(frames)]
        finally:
            fresh.close()
            reused.close()
        for a, b in zip(expected, again, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-3, err_msg=str(spec))


def test_video_mode_redetects_the_faces_the_tracking_graph_misses(shared_data):
    """A group photo held still as a video: FaceMesh's own graph finds one face of five;
    the full-range re-detection finds all five from the first frame and keeps them."""
    from aunce_rt.landmarks import FaceMeshBackend

    image = cv2.imread(str(shared_data / "images" / "multi_face.jpg"))
    rgb = np.ascontiguousarray(image[:, :, ::-1])
    counts = {}
    for every in (0, 10):
        backend = FaceMeshBackend(static=False, max_faces=8, redetect_every=every)
        try:
            counts[every] = [len(backend.process(rgb, 33 * t)) for t in range(15)]
        finally:
            backend.close()
    assert counts[10] == [5] * 15
    assert max(counts[0]) < 5  # the graph alone: why video mode used to miss people
