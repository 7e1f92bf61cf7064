"""pipelines._geometry_fit: mirror permutation, soft targets, balanced weights, the folded head."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.geometry import NUM_POINTS, mirror_landmarks
from aunce_rt.pipelines._geometry_fit import (
    HeadConfig,
    Rows,
    balanced_weights,
    fit_head,
    mirror_permutation,
    real_rows,
    training_rows,
)

K = 3


def _symmetric_face(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A face whose left half mirrors its right half under a known (shuffled) permutation."""
    rng = np.random.default_rng(seed)
    half = (NUM_POINTS - 28) // 2
    right = rng.uniform([20, 20, -5], [105, 200, 5], (half, 3))
    left = right * [-1, 1, 1] + [224, 0, 0]
    mid = np.column_stack([np.full(28, 112.0), rng.uniform(20, 200, 28), rng.uniform(-5, 5, 28)])
    pts = np.concatenate([right, left, mid])
    partner = np.concatenate([np.arange(half) + half, np.arange(half), 2 * half + np.arange(28)])
    order = rng.permutation(NUM_POINTS)  # hide the structure behind a shuffle
    inv = np.argsort(order)
    return pts[order], inv[partner[order]]


def test_mirror_permutation_recovers_the_symmetry():
    face, truth = _symmetric_face()
    perm = mirror_permutation(face)
    np.testing.assert_array_equal(perm, truth)
    np.testing.assert_allclose(mirror_landmarks(face, perm), face, atol=1e-4)


def test_real_rows_are_soft_targets():
    rng = np.random.default_rng(0)
    data = {
        "landmarks": rng.normal(size=(4, NUM_POINTS, 3)).astype(np.float32),
        "found": np.array([True, True, False, True]),
        "app": np.full((4, K), 0.5, np.float32),
        "app_flip": np.full((4, K), 0.5, np.float32),
        "teacher": rng.uniform(size=(4, K)).astype(np.float32),
    }
    rows = real_rows(data)
    assert len(rows) == 6  # 3 faces found, each twice
    np.testing.assert_array_equal(rows.targets[:3], 1)
    np.testing.assert_array_equal(rows.targets[3:], 0)
    np.testing.assert_allclose(rows.weights[:3], data["teacher"][[0, 1, 3]], rtol=1e-6)
    np.testing.assert_allclose(rows.weights[:3] + rows.weights[3:], 1, rtol=1e-6)


def test_balanced_weights_equalise_the_classes():
    y = np.array([[1], [0], [0], [0]], float)
    w = balanced_weights(Rows(np.zeros((4, NUM_POINTS, 3)), np.zeros((4, 1)), y, np.ones((4, 1))))
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())


def _toy(n: int = 600, seed: int = 0) -> dict[str, np.ndarray]:
    """SynthAU-like rows: AU k present iff point k moves up (plus noise elsewhere)."""
    rng = np.random.default_rng(seed)
    lm = rng.normal(100, 1, (n, NUM_POINTS, 3)).astype(np.float32)
    labels = rng.integers(0, 2, (n, K)).astype(np.int8)
    for k in range(K):
        lm[:, k, 1] -= 8 * labels[:, k]
    return {
        "landmarks": lm,
        "found": np.ones(n, bool),
        "labels": labels,
        "app": np.full((n, K), 0.5, np.float32),
        "app_flip": np.full((n, K), 0.5, np.float32),
    }


def test_folded_head_learns_and_matches_sklearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    data = _toy(1500)
    cfg = HeadConfig(balanced=False, real=False)
    rows = training_rows(data, None, cfg, None)
    head = fit_head(rows, cfg, n_jobs=1)
    test = _toy(200, seed=1)
    probs = head.probs(test["landmarks"])
    assert ((probs >= 0.5) == test["labels"]).mean() > 0.9
    x = rows.landmarks.reshape(len(rows), -1)
    scaler = StandardScaler().fit(x)
    lr = LogisticRegression(C=1.0, max_iter=2000, tol=1e-3).fit(scaler.transform(x), rows.targets[:, 1])
    want = lr.predict_proba(scaler.transform(test["landmarks"].reshape(200, -1)))[:, 1]
    np.testing.assert_allclose(probs[:, 1], want, atol=1e-4)


def test_mirror_rows_double_the_data():
    data = _toy(50)
    perm = np.arange(NUM_POINTS)
    rows = training_rows(data, None, HeadConfig(mirror=True, real=False), perm)
    assert len(rows) == 100
    np.testing.assert_allclose(rows.landmarks[50:, :, 0], 224 - rows.landmarks[:50, :, 0], atol=1e-4)
    with pytest.raises(ValueError, match="permutation"):
        training_rows(data, None, HeadConfig(mirror=True, real=False), None)


def test_neutral_offset_moves_synthau_onto_the_real_neutral_face():
    from aunce_rt.pipelines._geometry_fit import neutral_offset

    synth = _toy(300)
    synth["labels"][:40] = 0  # 40 neutral renders
    real = {
        "names": np.array([f"neutral/{i:03d}.jpg" for i in range(12)] + ["clip/0001"]),
        "landmarks": np.full((13, NUM_POINTS, 3), 105.0, np.float32),
        "found": np.ones(13, bool),
    }
    offset = neutral_offset(synth, real)
    want = 105.0 - synth["landmarks"][(synth["labels"] == 0).all(1)].mean(0)
    np.testing.assert_allclose(offset, want, rtol=1e-5)
    real["names"] = np.array(["smiling/x.jpg"] * 13)
    with pytest.raises(ValueError, match="neutral"):
        neutral_offset(synth, real)


def test_symmetrised_head_scores_a_face_and_its_mirror_alike():
    from aunce_rt.export._geometry_head import GeometryHead
    from aunce_rt.pipelines._geometry_fit import symmetrise

    face, perm = _symmetric_face()
    rng = np.random.default_rng(3)
    head = GeometryHead(
        rng.normal(0, 0.05, (NUM_POINTS * 3, K)).astype(np.float32), rng.normal(size=K).astype(np.float32)
    )
    geo = (face[None] + rng.normal(0, 3, (5, NUM_POINTS, 3))).astype(np.float32)  # asymmetric faces
    sym = symmetrise(head, perm)
    np.testing.assert_allclose(sym.logits(mirror_landmarks(geo, perm)), sym.logits(geo), atol=1e-3)
    assert np.abs(head.logits(mirror_landmarks(geo, perm)) - head.logits(geo)).max() > 0.1  # it was not
    # on average over a face and its mirror, nothing changes
    both = (head.logits(geo) + head.logits(mirror_landmarks(geo, perm))) / 2
    np.testing.assert_allclose(sym.logits(geo), both, atol=1e-3)


def test_calibration_keeps_every_decision_and_fits_the_observed_rates():
    from aunce_rt.evaluation.calibration import reliability
    from aunce_rt.export._geometry_head import GeometryHead
    from aunce_rt.pipelines._geometry_fit import calibrate

    rng = np.random.default_rng(5)
    n = 4000
    geo = rng.normal(0, 1, (n, NUM_POINTS, 3)).astype(np.float32)
    signal = geo[:, 0, 0]
    labels = (rng.uniform(size=n) < 1 / (1 + np.exp(-(signal - 1.0)))).astype(int)[:, None]  # base rate ~0.3
    w = np.zeros((NUM_POINTS * 3, 1), np.float32)
    w[0, 0] = 4.0  # overconfident and shifted: logit 4 x, true logit x - 1
    head = GeometryHead(w, np.zeros(1, np.float32))
    cal, thr = calibrate(head, geo, labels)
    before, after = head.probs(geo), cal.probs(geo)
    np.testing.assert_array_equal(before >= 0.5, after >= thr)  # same decisions
    assert 0 < thr[0] < 0.5  # the old decision point now reads as a probability below one half
    assert reliability(after, labels)["ece"] < 0.5 * reliability(before, labels)["ece"]


def test_region_masks_keep_each_au_to_its_half_of_the_face():
    from aunce_rt.pipelines._geometry_fit import region_masks

    face = np.zeros((NUM_POINTS, 3))
    face[:, 1] = np.linspace(0, 224, NUM_POINTS)  # y grows down the face
    face[1, 1] = 150.0  # nose tip
    face[[33, 133, 362, 263], 1] = 90.0  # eye corners
    masks = region_masks(face, (1, 12))
    y = np.repeat(face[:, 1], 3)
    assert masks.shape == (2, NUM_POINTS * 3)
    assert (y[masks[0]] < 150).all() and (y[masks[1]] > 90).all()


def test_masked_fit_reads_only_its_region():
    data = _toy(1500)
    cfg = HeadConfig(balanced=False, real=False)
    rows = training_rows(data, None, cfg, None)
    masks = np.ones((K, NUM_POINTS * 3), bool)
    masks[1, 3:6] = False  # AU column 1 may not read point 1, its own signal
    head = fit_head(rows, cfg, n_jobs=1, masks=masks)
    assert np.all(head.weights[~masks[1], 1] == 0)
    test = _toy(200, seed=1)
    acc = ((head.probs(test["landmarks"]) >= 0.5) == test["labels"]).mean(0)
    assert acc[0] > 0.9 and acc[1] < 0.7  # without its signal, AU column 1 is near chance
