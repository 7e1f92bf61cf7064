"""export._geometry_head: the landmark head as one ONNX graph, alone and fused with an appearance graph."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from aunce_rt.errors import InputError, ModelError
from aunce_rt.export._geometry_head import GeometryHead, build_geometry_model
from aunce_rt.export._graph import read_metadata, save_model_proto, set_metadata
from aunce_rt.geometry import GEOMETRY_SPEC, NUM_POINTS
from aunce_rt.session import AUModelSession
from tests.tiny_onnx import TINY_AUS, tiny_metadata, tiny_reference, write_tiny_model

K = len(TINY_AUS)


def _head(fused: bool, seed: int = 0) -> GeometryHead:
    rng = np.random.default_rng(seed)
    return GeometryHead(
        weights=rng.normal(0, 0.01, (NUM_POINTS * 3, K)).astype(np.float32),
        bias=rng.normal(0, 0.5, K).astype(np.float32),
        appearance_weights=rng.normal(0, 0.5, (K, K)).astype(np.float32) if fused else None,
    )


def _geometry(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 224, (n, NUM_POINTS, 3)).astype(np.float32)


def test_geometry_only_graph_matches_the_numpy_head(tmp_path):
    head = _head(fused=False)
    path = save_model_proto(build_geometry_model(head, tiny_metadata()), tmp_path / "geo.onnx")
    session = AUModelSession(path, providers="cpu")
    meta = session.metadata
    assert meta.inputs == ("landmarks",) and meta.geometry == GEOMETRY_SPEC and meta.format_version == 2
    assert session.uses_landmarks and not session.uses_images
    geo = _geometry(5)
    np.testing.assert_allclose(session.run(landmarks=geo), head.probs(geo), atol=1e-5)
    assert session.run(landmarks=geo[:0]).shape == (0, K)
    assert "478 landmarks" in session.describe()
    with pytest.raises(InputError, match="landmark geometry"):
        session.run(np.zeros((5, 224, 224, 3), np.uint8))


def test_fused_graph_adds_the_appearance_logits(tmp_path):
    head = _head(fused=True)
    tiny = onnx.load(str(write_tiny_model(tmp_path / "tiny.onnx")))
    path = save_model_proto(build_geometry_model(head, tiny_metadata(), tiny), tmp_path / "fused.onnx")
    session = AUModelSession(path, providers="cpu")
    assert session.metadata.inputs == ("images", "landmarks") and session.uses_images
    crops = np.random.default_rng(2).integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
    geo = _geometry(4)
    want = head.probs(geo, tiny_reference(crops))
    np.testing.assert_allclose(session.run(crops, landmarks=geo), want, atol=1e-4)
    with pytest.raises(InputError, match="4 crops but 3"):
        session.run(crops, landmarks=geo[:3])
    with pytest.raises(InputError, match="landmark geometry"):
        session.run(crops)


def test_head_and_graph_must_agree(tmp_path):
    tiny = onnx.load(str(write_tiny_model(tmp_path / "tiny.onnx")))
    with pytest.raises(InputError, match="exactly when"):
        build_geometry_model(_head(fused=False), tiny_metadata(), tiny)
    with pytest.raises(InputError, match="exactly when"):
        build_geometry_model(_head(fused=True), tiny_metadata())
    with pytest.raises(InputError, match="weights"):
        GeometryHead(weights=np.zeros((10, K)), bias=np.zeros(K))


def test_runtime_refuses_an_unknown_geometry(tmp_path):
    model = build_geometry_model(_head(fused=False), tiny_metadata())
    meta = read_metadata(model)
    set_metadata(model, meta.__class__(**{**meta.__dict__, "geometry": "someone-elses-v9"}))
    path = save_model_proto(model, tmp_path / "other.onnx")
    with pytest.raises(ModelError, match="someone-elses-v9"):
        AUModelSession(path, providers="cpu")


def test_metadata_validates_inputs():
    with pytest.raises(ModelError, match="inputs"):
        tiny_metadata(inputs=("pixels",))
    with pytest.raises(ModelError, match="geometry spec"):
        tiny_metadata(inputs=("landmarks",))
    assert tiny_metadata().uses_images and not tiny_metadata().uses_landmarks


def test_detector_feeds_the_aligned_geometry(tmp_path, shared_data):
    """Through AUDetector: the graph sees aligned_landmarks of the face the landmarker found."""
    import cv2

    from aunce_rt.detector import AUDetector
    from aunce_rt.geometry import aligned_landmarks

    base = _head(fused=False)
    xy_only = base.weights.reshape(NUM_POINTS, 3, K) * np.array([1, 1, 0], np.float32)[None, :, None]
    head = GeometryHead(weights=xy_only.reshape(NUM_POINTS * 3, K), bias=base.bias)  # z is not in the results
    path = save_model_proto(build_geometry_model(head, tiny_metadata()), tmp_path / "geo.onnx")
    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    with AUDetector(path, providers="cpu", num_threads=1) as det:
        result = det.detect(image)
        stream = list(det.stream([image, image], batch_frames=2))
    face = result.faces[0]
    want = head.probs(aligned_landmarks(face.landmarks, np.zeros(NUM_POINTS))[None])[0]
    np.testing.assert_allclose(face.probabilities, want, atol=1e-4)
    assert [len(r.faces) for r in stream] == [1, 1]
    np.testing.assert_allclose(stream[1].faces[0].probabilities, want, atol=0.05)  # video-mode landmarks


def test_frontal_model_carries_its_reference_face(tmp_path):
    from aunce_rt.geometry import GEOMETRY_FRONTAL, aligned_landmarks, frontalise

    rng = np.random.default_rng(4)
    reference = rng.uniform(0, 224, (NUM_POINTS, 3)).astype(np.float32)
    head = _head(fused=False)
    model = build_geometry_model(head, tiny_metadata(), geometry=GEOMETRY_FRONTAL, reference=reference)
    session = AUModelSession(save_model_proto(model, tmp_path / "frontal.onnx"), providers="cpu")
    assert session.metadata.geometry == GEOMETRY_FRONTAL
    pts, z = rng.uniform(100, 300, (NUM_POINTS, 2)), rng.normal(0, 5, NUM_POINTS)
    want = frontalise(aligned_landmarks(pts, z), reference)
    np.testing.assert_allclose(session.geometry(pts, z), want, atol=1e-4)
    with pytest.raises(InputError, match="reference"):
        build_geometry_model(head, tiny_metadata(), geometry=GEOMETRY_FRONTAL)
    # a frontal model whose metadata lost its reference is refused at load
    meta = read_metadata(model)
    set_metadata(model, meta.__class__(**{**meta.__dict__, "geometry_reference": (1.0, 2.0)}))
    with pytest.raises(ModelError, match="reference values"):
        AUModelSession(save_model_proto(model, tmp_path / "broken.onnx"), providers="cpu")
