"""export._geometry_head with an intensity head: the ``intensities`` output, its metadata, the session."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from aunce_rt.errors import InputError, ModelError
from aunce_rt.export._geometry_head import GeometryHead, build_geometry_model, intensity_reference
from aunce_rt.export._graph import read_metadata, save_model_proto, set_metadata
from aunce_rt.geometry import NUM_POINTS
from aunce_rt.session import AUModelSession
from tests.tiny_onnx import TINY_AUS, tiny_metadata, write_tiny_model

K = len(TINY_AUS)


def _head(k: int, seed: int, bias: float = 0.0) -> GeometryHead:
    rng = np.random.default_rng(seed)
    return GeometryHead(
        weights=rng.normal(0, 0.002, (NUM_POINTS * 3, k)).astype(np.float32),
        bias=(bias + rng.normal(0, 2.0, k)).astype(np.float32),
    )


def _geometry(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 224, (n, NUM_POINTS, 3)).astype(np.float32)


def test_intensity_output_is_the_clipped_linear_head(tmp_path):
    probs_head, inten_head = _head(K, 0), _head(K, 1, bias=2.5)
    model = build_geometry_model(probs_head, tiny_metadata(), intensity=inten_head)
    assert [o.name for o in model.graph.output] == ["probs", "intensities"]
    session = AUModelSession(save_model_proto(model, tmp_path / "m.onnx"), providers="cpu")
    meta = session.metadata
    assert meta.intensity_aus == TINY_AUS and meta.intensity_scale == (0.0, 5.0) and meta.has_intensity
    geo = _geometry(64)
    probs, inten = session.run_with_intensities(landmarks=geo)
    want = intensity_reference(inten_head, geo, (0.0, 5.0))
    assert (want == 0).any() and (want == 5).any(), "the test geometry must reach both clip bounds"
    np.testing.assert_allclose(inten, want, atol=1e-4)
    np.testing.assert_allclose(probs, probs_head.probs(geo), atol=1e-5)
    np.testing.assert_array_equal(session.run(landmarks=geo), probs)  # run() is unchanged
    assert session.run_with_intensities(landmarks=geo[:0])[1].shape == (0, K)


def test_a_subset_of_aus_gets_nan_elsewhere(tmp_path):
    subset = TINY_AUS[:3]
    inten_head = _head(3, 2, bias=2.5)
    model = build_geometry_model(_head(K, 0), tiny_metadata(intensity_aus=subset), intensity=inten_head)
    session = AUModelSession(save_model_proto(model, tmp_path / "m.onnx"), providers="cpu")
    _, inten = session.run_with_intensities(landmarks=_geometry(4))
    assert np.isfinite(inten[:, :3]).all() and np.isnan(inten[:, 3:]).all()
    with pytest.raises(InputError, match="3 intensity AUs"):
        build_geometry_model(_head(K, 0), tiny_metadata(intensity_aus=subset), intensity=_head(K, 1))


def test_models_without_intensity_still_run(tmp_path):
    """An older (image-only, format 1) model and a geometry model without the head: NaN intensities."""
    old = AUModelSession(write_tiny_model(tmp_path / "tiny.onnx"), providers="cpu")
    assert not old.has_intensity and old.metadata.intensity_aus == ()
    crops = np.zeros((2, 224, 224, 3), np.uint8)
    probs, inten = old.run_with_intensities(crops)
    assert probs.shape == (2, K) and np.isnan(inten).all()
    geo_only = build_geometry_model(_head(K, 0), tiny_metadata())
    assert [o.name for o in geo_only.graph.output] == ["probs"]
    assert read_metadata(geo_only).intensity_aus == ()


def test_fused_graph_carries_the_intensity_output(tmp_path):
    fused = GeometryHead(_head(K, 0).weights, _head(K, 0).bias, np.eye(K, dtype=np.float32))
    tiny = onnx.load(str(write_tiny_model(tmp_path / "tiny.onnx")))
    inten_head = _head(K, 3, bias=2.5)
    model = build_geometry_model(fused, tiny_metadata(), tiny, intensity=inten_head)
    session = AUModelSession(save_model_proto(model, tmp_path / "fused.onnx"), providers="cpu")
    geo = _geometry(3)
    _, inten = session.run_with_intensities(np.zeros((3, 224, 224, 3), np.uint8), geo)
    np.testing.assert_allclose(inten, intensity_reference(inten_head, geo, (0.0, 5.0)), atol=1e-4)


def test_metadata_promising_intensity_needs_the_output(tmp_path):
    model = build_geometry_model(_head(K, 0), tiny_metadata())
    meta = read_metadata(model)
    set_metadata(model, meta.__class__(**{**meta.__dict__, "intensity_aus": TINY_AUS}))
    with pytest.raises(ModelError, match="'intensities'"):
        AUModelSession(save_model_proto(model, tmp_path / "broken.onnx"), providers="cpu")
    with pytest.raises(ModelError, match="intensity AUs"):
        tiny_metadata(intensity_aus=(99,))
    with pytest.raises(ModelError, match="intensity_scale"):
        tiny_metadata(intensity_scale=(5.0, 0.0))


def test_off_scale_intensities_are_refused(tmp_path):
    model = build_geometry_model(_head(K, 0), tiny_metadata(), intensity=_head(K, 1, bias=2.5))
    meta = read_metadata(model)  # the graph clips to 0-5; a metadata scale of 0-1 makes it off-scale
    set_metadata(model, meta.__class__(**{**meta.__dict__, "intensity_scale": (0.0, 1.0)}))
    with pytest.raises(ModelError, match="intensities"):
        AUModelSession(save_model_proto(model, tmp_path / "off.onnx"), providers="cpu").run_with_intensities(
            landmarks=_geometry(64)
        )


def test_detector_and_csv_carry_the_intensities(tmp_path, shared_data):
    """Through AUDetector and the CSV sink: FaceResult.intensities is the graph's, AUxx_r its 2 decimals."""
    import cv2

    from aunce_rt.detector import AUDetector
    from aunce_rt.geometry import aligned_landmarks
    from aunce_rt.sinks import CSVSink, read_au_csv

    xy_only = np.array([1, 1, 0], np.float32)[None, :, None]  # z is not in the results: leave it out

    def flat(h: GeometryHead) -> GeometryHead:
        return GeometryHead(
            (h.weights.reshape(NUM_POINTS, 3, -1) * xy_only).reshape(NUM_POINTS * 3, -1), h.bias
        )

    inten_head = flat(_head(K, 5, bias=2.5))
    model = build_geometry_model(flat(_head(K, 0)), tiny_metadata(), intensity=inten_head)
    path = save_model_proto(model, tmp_path / "m.onnx")
    image = cv2.imread(str(shared_data / "images" / "single_face.jpg"))
    with AUDetector(path, providers="cpu", num_threads=1, smoothing=0.5) as det:
        assert det.intensity_codes == TINY_AUS
        face = det.detect(image).faces[0]
        with CSVSink(tmp_path / "aus.csv", det.au_codes, intensity_codes=det.intensity_codes) as sink:
            stream = list(det.stream([image, image, image], batch_frames=2))
            for result in stream:
                sink.write(result)
    want = intensity_reference(
        inten_head, aligned_landmarks(face.landmarks, np.zeros(NUM_POINTS))[None], (0, 5)
    )
    np.testing.assert_allclose(face.intensities, want[0], atol=1e-3)
    cols = read_au_csv(tmp_path / "aus.csv")
    got = np.array([cols[f"AU{c:02d}_r"] for c in TINY_AUS]).T  # (frames, K)
    np.testing.assert_allclose(got[-1], stream[-1].faces[0].intensities, atol=0.005 + 1e-6)
    np.testing.assert_allclose(got[0], want[0], atol=0.1)  # video-mode landmarks
