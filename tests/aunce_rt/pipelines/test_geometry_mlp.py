"""pipelines._geometry_mlp: the MLP head learns unseen faces' AUs, is seeded, mirror-averages, calibrates."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.evaluation.metrics import roc_auc
from aunce_rt.geometry import NUM_POINTS, mirror_landmarks
from aunce_rt.pipelines._geometry_fit import HeadConfig, Rows, calibrate, fit_recipe_head
from aunce_rt.pipelines._geometry_mlp import MLPConfig, fit_mlp_head
from tests.aunce_rt.pipelines.test_geometry_fit import _symmetric_face

FAST = MLPConfig(hidden=32, epochs=40, batch=64, lr=3e-3, dropout=0.0)


def _faces(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces around a base shape, varied along a few shape modes (as real faces are: the points move
    together); AU 0 is 'point 7 moved up and point 9 too' (a conjunction), AU 1 'point 9 moved up'."""
    rng = np.random.default_rng(seed)
    base, _ = _symmetric_face()
    modes = np.random.default_rng(99).normal(0, 1, (4, NUM_POINTS, 3))
    lm = base[None] + np.einsum("nm,mpc->npc", rng.normal(0, 1, (n, 4)), modes)
    lm += rng.normal(0, 0.02, lm.shape)
    shift7, shift9 = rng.normal(0, 3, n), rng.normal(0, 3, n)
    lm[:, 7, 1] += shift7
    lm[:, 9, 1] += shift9
    y = np.stack([(shift7 > 1) & (shift9 > 1), shift9 > 1]).T.astype(np.float64)
    return lm.astype(np.float32), y


def _rows(lm: np.ndarray, y: np.ndarray) -> Rows:
    return Rows(lm, np.zeros_like(y), y, np.ones_like(y))


def test_mlp_learns_aus_of_unseen_faces_through_its_folded_standardisation():
    train, test = _faces(1500, 0), _faces(500, 1)
    mlp = fit_mlp_head(_rows(*train), FAST)
    auc = roc_auc(mlp.probs(test[0]), test[1])
    assert auc.min() > 0.9, auc  # the standardisation is folded into the returned weights
    assert mlp.mirror is None


def test_seeded_fit_is_repeatable_and_seeds_differ():
    rows = _rows(*_faces(300, 0))
    cfg = MLPConfig(hidden=8, epochs=3, batch=64)
    a, b = fit_mlp_head(rows, cfg), fit_mlp_head(rows, cfg)
    np.testing.assert_array_equal(a.weights, b.weights)
    c = fit_mlp_head(rows, MLPConfig(hidden=8, epochs=3, batch=64, seed=1))
    assert not np.allclose(a.weights, c.weights)


def test_recipe_head_mirror_averages_and_calibrates():
    _, perm = _symmetric_face()
    lm, y = _faces(400, 0)
    head = fit_recipe_head(_rows(lm, y), HeadConfig(symmetric=True), perm, kind="mlp")
    np.testing.assert_array_equal(head.mirror, perm)
    np.testing.assert_allclose(head.logits(mirror_landmarks(lm[:5], perm)), head.logits(lm[:5]), atol=1e-4)
    cal, thr = calibrate(head, lm, y.astype(int))
    # Platt scaling is monotone per AU: the decisions at the new thresholds are the old ones at 0
    np.testing.assert_array_equal(cal.probs(lm) >= thr, head.logits(lm) >= 0)


def test_recipe_head_refuses_what_an_mlp_cannot_read():
    rows = _rows(*_faces(50, 0))
    with pytest.raises(ValueError, match="whole face's geometry only"):
        fit_recipe_head(rows, HeadConfig(appearance=True), None, kind="mlp")
    with pytest.raises(ValueError, match="'linear' or 'mlp'"):
        fit_recipe_head(rows, HeadConfig(), None, kind="forest")
    with pytest.raises(ValueError, match="needs training rows"):
        fit_mlp_head(_rows(*_faces(0, 0)), FAST)
