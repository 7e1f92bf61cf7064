"""export._feature_intensity: an intensity head on an exported CNN's per-AU features."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from aunce_rt.errors import ModelError
from aunce_rt.export import quantize_int8, random_crops, to_fp16
from aunce_rt.export._feature_intensity import (
    FeatureIntensityHead,
    add_intensity_head,
    feature_tensor,
    with_features_output,
)
from aunce_rt.export._geometry_head import GeometryHead, build_geometry_model
from aunce_rt.export._graph import load_model_proto, read_metadata, save_model_proto
from aunce_rt.export.testing import tiny_export
from aunce_rt.geometry import NUM_POINTS
from aunce_rt.session import AUModelSession
from tests.tiny_onnx import tiny_metadata


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory):
    """The tiny CNN exported WITHOUT a features output (as the bundled synthau model is)."""
    return tiny_export(tmp_path_factory.mktemp("plain"), with_features=False)


def _features(proto, crops: np.ndarray) -> np.ndarray:
    name = feature_tensor(proto)
    sess = ort.InferenceSession(
        with_features_output(proto).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return sess.run([name], {sess.get_inputs()[0].name: crops})[0]


def _head(k: int, c: int, seed: int = 0) -> FeatureIntensityHead:
    rng = np.random.default_rng(seed)
    return FeatureIntensityHead(rng.normal(0, 8.0, (k, c)), rng.normal(2.5, 1.0, k))


def test_head_output_is_the_clipped_per_au_map_and_probs_are_unchanged(plain, tmp_path):
    proto = load_model_proto(plain.path)
    crops = random_crops(16, seed=3, size=plain.metadata.input_size)
    feats = _features(proto, crops)  # (16, K, C), the probe's input
    k = plain.metadata.num_aus
    assert feats.shape[:2] == (16, k)
    head = _head(k, feats.shape[2])
    add_intensity_head(proto, head, training={"method": "test"}, metrics={"x": 1})
    path = save_model_proto(proto, tmp_path / "with_int.onnx")

    meta = read_metadata(path)
    assert meta.intensity_aus == meta.au_codes and meta.has_intensity
    assert meta.training["intensity"] == {"method": "test"} and meta.metrics["x"] == 1
    before = AUModelSession(plain.path, providers="cpu").run(crops)
    probs, inten = AUModelSession(path, providers="cpu").run_with_intensities(crops)
    np.testing.assert_array_equal(probs, before)
    want = head.predict(feats)
    np.testing.assert_allclose(inten, want, atol=1e-4)
    raw = head.raw(feats)
    assert (raw < 0).any() or (raw > 5).any(), "the test head should exercise the clip"
    assert inten.min() >= 0 and inten.max() <= 5


@pytest.mark.parametrize(
    ("variant", "atol"),
    [
        (lambda src, dst: quantize_int8(src, dst, scheme="dynamic"), 1e-3),
        (to_fp16, 0.05),  # half-precision weights and sums
    ],
    ids=["int8", "fp16"],
)
def test_reduced_precision_graphs_get_a_head_on_their_own_features(plain, tmp_path, variant, atol):
    proto = load_model_proto(variant(plain.path, tmp_path / "variant.onnx"))
    crops = random_crops(8, seed=4, size=plain.metadata.input_size)
    feats = _features(proto, crops)
    head = _head(plain.metadata.num_aus, feats.shape[2], seed=1)
    path = save_model_proto(add_intensity_head(proto, head), tmp_path / "variant_int.onnx")
    _, inten = AUModelSession(path, providers="cpu").run_with_intensities(crops)
    assert inten.dtype == np.float32
    np.testing.assert_allclose(inten, head.predict(feats), atol=atol)


def test_exported_features_output_is_used_when_present(tmp_path):
    res = tiny_export(tmp_path, with_features=True)
    assert feature_tensor(load_model_proto(res.path)) == "features"


def test_refusals(plain):
    proto = load_model_proto(plain.path)
    k = plain.metadata.num_aus
    with pytest.raises(ModelError, match="probe is"):
        add_intensity_head(load_model_proto(plain.path), _head(k, 3))
    c = _features(proto, random_crops(1, size=plain.metadata.input_size)).shape[2]
    add_intensity_head(proto, _head(k, c))
    with pytest.raises(ModelError, match="already has"):
        add_intensity_head(proto, _head(k, c))
    geo = build_geometry_model(
        GeometryHead(np.zeros((NUM_POINTS * 3, k), np.float32), np.zeros(k, np.float32)), tiny_metadata()
    )
    with pytest.raises(ModelError, match="no per-AU appearance features"):
        feature_tensor(geo)
    with pytest.raises(ValueError, match=r"\(K, C\)"):
        FeatureIntensityHead(np.zeros((3, 4)), np.zeros(2))
