"""AUDetector end to end with the tiny ONNX model on real media."""

from __future__ import annotations

import gc
import threading
import tracemalloc
import weakref

import cv2
import numpy as np
import pytest

import aunce_rt.detector as detector_mod
from aunce_rt.align import align_face
from aunce_rt.detector import AUDetector, resolve_thresholds
from aunce_rt.errors import InputError, ModelError
from aunce_rt.results import STAGES
from tests.tiny_onnx import TINY_AUS, tiny_reference


@pytest.fixture(scope="module")
def detector(tiny_model):
    with AUDetector(tiny_model, providers="cpu", num_threads=1) as det:
        yield det


def _expected_probs(image_bgr, landmarks):
    crop, _ = align_face(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), landmarks, "mediapipe", 256, 224)
    return tiny_reference(crop[None])[0]


def test_detect_runs_the_aligned_crop_through_the_model(detector, shared_data):
    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    result = detector.detect(image, timestamp=1.5)
    assert result.success and len(result.faces) == 1 and result.timestamp == 1.5
    assert (result.width, result.height) == (image.shape[1], image.shape[0])
    face = result.faces[0]
    assert face.au_codes == TINY_AUS and face.landmarks.shape == (478, 2)
    np.testing.assert_allclose(face.probabilities, _expected_probs(image, face.landmarks), atol=1e-4)
    np.testing.assert_array_equal(face.occurrences, face.probabilities >= 0.5)
    assert set(result.timings) == {"decode", "landmarks", "align", "inference", "post", "total"}


def test_detect_group_photo_orders_faces_left_to_right(tiny_model, shared_data):
    with AUDetector(tiny_model, providers="cpu", max_faces=8) as det:
        result = det.detect(cv2.imread(str(shared_data / "images" / "multi_face.jpg")))
    assert [f.face_id for f in result.faces] == [0, 1, 2, 3, 4]
    xs = [f.box[0] for f in result.faces]
    assert xs == sorted(xs)


def test_face_cut_by_the_border_is_still_analysed(detector, shared_data):
    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    box = detector.detect(image).faces[0].box
    cut = np.ascontiguousarray(
        image[:, int(box[0] + 0.2 * (box[2] - box[0])) :]
    )  # lose the face's left fifth
    result = detector.detect(cut)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.box[0] < 0  # landmarks extend beyond the frame
    np.testing.assert_allclose(face.probabilities, _expected_probs(cut, face.landmarks), atol=1e-4)


def test_stream_video_one_result_per_frame(detector, shared_data, monkeypatch):
    calls = []
    real_run = detector.session.run_with_intensities  # the detector's one ORT call per window
    monkeypatch.setattr(
        detector.session,
        "run_with_intensities",
        lambda crops, landmarks=None: calls.append(len(crops)) or real_run(crops, landmarks),
    )
    results = list(detector.stream(shared_data / "video" / "single_face.mp4", batch_frames=4))
    assert [r.index for r in results] == list(range(72))
    assert all(len(r.faces) == 1 and r.faces[0].face_id == 0 for r in results)
    assert len(calls) == 18 and set(calls) == {4}  # 4 frames' faces per ORT call
    for r in results:
        assert set(r.timings) == set(STAGES)
        parts = sum(v for k, v in r.timings.items() if k != "total")
        assert r.timings["total"] == pytest.approx(parts)
    assert results[1].timestamp > results[0].timestamp and results[0].source == "single_face.mp4"


def test_stream_batching_does_not_change_results(detector, shared_data):
    images = [cv2.imread(str(shared_data / "image_sequence" / f"{i:03d}.jpg")) for i in range(1, 7)]
    one = [r.faces[0].probabilities for r in detector.stream(images, batch_frames=1)]
    many = [r.faces[0].probabilities for r in detector.stream(images, batch_frames=6)]
    np.testing.assert_allclose(np.stack(one), np.stack(many), atol=1e-5)


def test_stream_without_faces(detector, shared_data):
    results = list(detector.stream(shared_data / "video" / "no_face.mp4"))
    assert len(results) == 95 and not any(r.success for r in results)
    assert all(r.timings["inference"] == 0.0 for r in results)


def test_smoothing_is_a_causal_ema_per_track(tiny_model, shared_data):
    frames = [cv2.imread(str(shared_data / "image_sequence" / f"{i:03d}.jpg")) for i in range(1, 6)]
    with (
        AUDetector(tiny_model, providers="cpu") as raw_det,
        AUDetector(tiny_model, providers="cpu", smoothing=0.25) as det,
    ):
        raw = np.stack([r.faces[0].probabilities for r in raw_det.stream(frames)])
        smooth = np.stack([r.faces[0].probabilities for r in det.stream(frames)])
    expected = [raw[0]]
    for p in raw[1:]:
        expected.append(0.25 * p + 0.75 * expected[-1])
    np.testing.assert_allclose(smooth, np.stack(expected), atol=1e-5)


def test_thresholds():
    codes, defaults = (1, 2, 12), (0.5, 0.4, 0.6)
    np.testing.assert_allclose(resolve_thresholds(None, codes, defaults), defaults)
    np.testing.assert_allclose(resolve_thresholds(0.3, codes, defaults), [0.3] * 3)
    np.testing.assert_allclose(resolve_thresholds({12: 0.9, "AU01": 0.1}, codes, defaults), [0.1, 0.4, 0.9])
    np.testing.assert_allclose(resolve_thresholds([0.2, 0.3, 0.4], codes, defaults), [0.2, 0.3, 0.4])
    with pytest.raises(InputError, match="given for 25, which is not among the model.s AUs"):
        resolve_thresholds({25: 0.5}, codes, defaults)
    with pytest.raises(InputError, match="2 thresholds for a model with 3 AUs"):
        resolve_thresholds([0.1, 0.2], codes, defaults)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        resolve_thresholds(1.5, codes, defaults)


def test_thresholds_reach_occurrences(tiny_model, shared_data):
    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    with AUDetector(tiny_model, providers="cpu", thresholds=0.0) as det:
        assert det.detect(image).faces[0].occurrences.all()


def test_no_bundled_model(monkeypatch, tmp_path):
    monkeypatch.setattr(detector_mod, "DEFAULT_MODEL", tmp_path / "default.onnx")
    with pytest.raises(ModelError, match="no default model is bundled yet; pass model="):
        AUDetector()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_faces": 0}, "max_faces"),
        ({"smoothing": 0.0}, "smoothing"),
        ({"batch_frames": 0}, "batch_frames"),
    ],
)
def test_bad_arguments(tiny_model, kwargs, message):
    with pytest.raises(InputError, match=message):
        AUDetector(tiny_model, providers="cpu", **kwargs)


def test_detect_rejects_tiny_image(detector):
    with pytest.raises(InputError, match="too small"):
        detector.detect(np.zeros((20, 20, 3), np.uint8))


def test_tasks_landmarks_add_blendshapes(tiny_model, landmarker_task, shared_data):
    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    with AUDetector(tiny_model, providers="cpu", landmarks=landmarker_task) as det:
        face = det.detect(image).faces[0]
    assert face.blendshapes is not None and len(face.blendshapes) == 52


def test_stride_applies_to_paths_and_is_checked_on_opened_sources(detector, shared_data):
    from aunce_rt.sources import open_source

    sequence = shared_data / "image_sequence"
    assert [r.index for r in detector.stream(sequence, stride=10)] == [0, 10, 20]
    opened = open_source(sequence, stride=10)
    assert opened.stride == 10
    assert [r.index for r in detector.stream(opened, stride=10)] == [0, 10, 20]  # the same stride: fine
    assert [r.index for r in detector.stream(open_source(sequence, stride=15))] == [
        0,
        15,
    ]  # None: the source's
    opened = open_source(sequence)
    with pytest.raises(InputError, match=r"stride=5 was given for 'image_sequence'.*stride 1"):
        next(detector.stream(opened, stride=5))  # was silently ignored: every frame analysed


def test_repeated_streams_keep_no_memory_threads_or_backends(tiny_model, shared_data, monkeypatch):
    # Issue 16: each stream() built and closed its MediaPipe graphs, and every graph left ~1 MB
    # of native memory behind (RSS grew ~2.5 MB per pair of streams here, without end). Native
    # memory is too noisy to assert on, so this counts the graphs built and the objects kept.
    made = weakref.WeakSet()
    real_create = detector_mod.create_backend

    def counting_create(*args, **kwargs):
        backend = real_create(*args, **kwargs)
        made.add(backend)
        counting_create.calls += 1
        return backend

    counting_create.calls = 0
    monkeypatch.setattr(detector_mod, "create_backend", counting_create)
    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    video = shared_data / "video" / "single_face.mp4"
    with AUDetector(tiny_model, providers="cpu", num_threads=1) as det:

        def one_of_each() -> None:
            assert len(list(det.stream([image, image]))) == 2  # still images: static backend
            assert len(list(det.stream(video, stride=36))) == 2  # a video: tracking backend

        one_of_each()  # warm-up: the backends, ORT's and OpenCV's pools
        gc.collect()
        threads = threading.active_count()
        tracemalloc.start()
        try:
            for _ in range(40):
                one_of_each()
            gc.collect()
            python_growth = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert counting_create.calls == 2  # one backend per mode, reused by every later stream
        assert len(made) == 2
        assert threading.active_count() <= threads
        assert python_growth < 1 << 20, python_growth
    assert counting_create.calls == 2


def test_a_reused_tracking_backend_starts_each_stream_afresh(tiny_model, shared_data):
    def first_landmarks(det, name):
        results = det.stream(shared_data / "video" / name)
        try:
            return [
                r.faces[0].landmarks if r.faces else None for r, _ in zip(results, range(4), strict=False)
            ]
        finally:
            results.close()

    with AUDetector(tiny_model, providers="cpu", num_threads=1) as fresh:
        expected = first_landmarks(fresh, "single_face.mp4")
    with AUDetector(tiny_model, providers="cpu", num_threads=1) as det:
        first_landmarks(det, "openface_default.wmv")  # leaves tracking state behind, then reused
        again = first_landmarks(det, "single_face.mp4")
    assert all(e is not None for e in expected)
    for a, b in zip(expected, again, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_interleaved_streams_do_not_share_a_backend(detector, shared_data):
    video = shared_data / "video" / "single_face.mp4"
    alone = [r.faces[0].landmarks for r in detector.stream(video, stride=24)]
    a, b = detector.stream(video, stride=24), detector.stream(video, stride=24)
    both = [(next(a).faces[0].landmarks, next(b).faces[0].landmarks) for _ in alone]
    assert next(a, None) is None and next(b, None) is None
    for expected, (x, y) in zip(alone, both, strict=True):
        np.testing.assert_allclose(x, expected, atol=1e-3)
        np.testing.assert_allclose(y, expected, atol=1e-3)


def test_group_photo_default_max_faces_finds_all_five(tiny_model, shared_data) -> None:
    with AUDetector(tiny_model, providers="cpu") as det:
        result = det.detect(cv2.imread(str(shared_data / "images" / "multi_face.jpg")))
    assert len(result.faces) == 5


def test_max_faces_that_drops_faces_says_so_once(tiny_model, shared_data, caplog) -> None:
    image = cv2.imread(str(shared_data / "images" / "multi_face.jpg"))
    with AUDetector(tiny_model, providers="cpu", max_faces=3) as det, caplog.at_level("WARNING"):
        first, second = det.detect(image), det.detect(image)
    assert len(first.faces) == len(second.faces) == 3
    areas = [float(np.prod(f.box[2:] - f.box[:2])) for f in first.faces]
    assert min(areas) > 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "5 faces" in warnings[0] and "drops 2" in warnings[0] and "--max-faces" in warnings[0]


class _ListBackend:
    """A landmark backend that returns fixed faces (for the detector's screening)."""

    def __init__(self, faces):
        self.faces = faces

    def process(self, rgb, timestamp_ms=0):
        return list(self.faces)

    def reset(self):
        pass

    def close(self):
        pass


def test_detector_reports_neither_duplicates_nor_non_faces(tiny_model, shared_data) -> None:
    from aunce_rt.boxes import box_of
    from aunce_rt.landmarks import FaceLandmarks

    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    with AUDetector(tiny_model, providers="cpu") as det:
        real = det.detect(image).faces[0]
        pts = real.landmarks
        z = np.zeros(len(pts), np.float32)
        c = pts.mean(0)
        torso = (pts - c) * np.array([2.5, 0.8], np.float32) + c + np.array([0, 200], np.float32)
        faces = [
            FaceLandmarks(pts + 2, z, 0.6, box_of(pts + 2)),  # a duplicate, less confident
            FaceLandmarks(pts, z, 0.9, box_of(pts)),
            FaceLandmarks(torso, z, 0.8, box_of(torso)),  # not a face
        ]
        det._static = _ListBackend(faces)
        result = det.detect(image)
    assert len(result.faces) == 1 and result.faces[0].confidence == pytest.approx(0.9)
