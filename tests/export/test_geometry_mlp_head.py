"""export._geometry_head.MLPGeometryHead: the non-linear landmark head as one ONNX graph."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.export._geometry_head import MLPGeometryHead, build_geometry_model
from aunce_rt.export._graph import save_model_proto
from aunce_rt.geometry import NUM_POINTS, mirror_landmarks
from aunce_rt.session import AUModelSession
from tests.tiny_onnx import TINY_AUS, tiny_metadata

K, H = len(TINY_AUS), 16


def _perm() -> np.ndarray:
    """An involution on the 478 points (pairs swapped, the last ones fixed)."""
    perm = np.arange(NUM_POINTS)
    perm[0:400:2], perm[1:400:2] = np.arange(1, 400, 2), np.arange(0, 400, 2)
    return perm


def _head(mirror: bool, seed: int = 0) -> MLPGeometryHead:
    rng = np.random.default_rng(seed)
    return MLPGeometryHead(
        hidden_weights=rng.normal(0, 0.01, (NUM_POINTS * 3, H)).astype(np.float32),
        hidden_bias=rng.normal(0, 0.5, H).astype(np.float32),
        weights=rng.normal(0, 1.0, (H, K)).astype(np.float32),
        bias=rng.normal(0, 0.5, K).astype(np.float32),
        mirror=_perm() if mirror else None,
    )


def _geometry(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 224, (n, NUM_POINTS, 3)).astype(np.float32)


@pytest.mark.parametrize("mirror", [False, True])
def test_mlp_graph_matches_the_numpy_head(tmp_path, mirror):
    head = _head(mirror)
    path = save_model_proto(build_geometry_model(head, tiny_metadata()), tmp_path / "mlp.onnx")
    session = AUModelSession(path, providers="cpu")
    assert session.metadata.inputs == ("landmarks",)
    geo = _geometry(6)
    want = head.probs(geo)
    assert want.std() > 0.05  # the check is not made on saturated outputs
    np.testing.assert_allclose(session.run(landmarks=geo), want, atol=1e-5)
    assert session.run(landmarks=geo[:0]).shape == (0, K)


def test_mirror_averaged_head_scores_a_face_and_its_mirror_alike(tmp_path):
    head = _head(mirror=True)
    path = save_model_proto(build_geometry_model(head, tiny_metadata()), tmp_path / "mlp.onnx")
    session = AUModelSession(path, providers="cpu")
    geo = _geometry(5)
    flipped = mirror_landmarks(geo, _perm())
    np.testing.assert_allclose(session.run(landmarks=flipped), session.run(landmarks=geo), atol=1e-5)
    plain = _head(mirror=False)  # without the average, the mirror image scores differently
    assert np.abs(plain.probs(flipped) - plain.probs(geo)).max() > 0.01


def test_rescaled_is_slope_and_offset_on_the_logits():
    head = _head(mirror=True)
    geo = _geometry(4)
    a, c = np.linspace(0.5, 2.0, K), np.linspace(-1, 1, K)
    np.testing.assert_allclose(
        head.rescaled(a, c).logits(geo), a * head.logits(geo) + c, rtol=1e-5, atol=1e-4
    )


def test_bad_shapes_are_refused():
    h = _head(mirror=False)
    with pytest.raises(InputError, match=r"hidden weights \(1434, H\)"):
        MLPGeometryHead(h.hidden_weights[:10], h.hidden_bias, h.weights, h.bias)
    with pytest.raises(InputError, match="hidden weights"):
        MLPGeometryHead(h.hidden_weights, h.hidden_bias, h.weights[:3], h.bias)
    with pytest.raises(InputError, match="mirror permutation"):
        MLPGeometryHead(h.hidden_weights, h.hidden_bias, h.weights, h.bias, mirror=np.arange(5))
