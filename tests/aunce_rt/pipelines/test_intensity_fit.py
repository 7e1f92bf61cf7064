"""pipelines._intensity_fit: SynthAU intensity truth, the ridge head, mirror symmetry, the alpha choice."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.geometry import NUM_POINTS, mirror_landmarks
from aunce_rt.pipelines._intensity_fit import fit_intensity, fit_ridge, synth_intensities
from tests.aunce_rt.pipelines.test_geometry_fit import _symmetric_face

K = 2


def _data(n: int, seed: int, perm: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces moved along two fixed mirror-symmetric directions; intensities linear in the movement."""
    dirs = np.random.default_rng(100)
    d1 = dirs.normal(0, 1, (NUM_POINTS, 3))
    d1 = (d1 + mirror_landmarks(d1 + face, perm) - face) / 2  # symmetric direction
    d2 = dirs.normal(0, 1, (NUM_POINTS, 3))
    d2 = (d2 + mirror_landmarks(d2 + face, perm) - face) / 2
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 1, (n, K))
    lm = (
        face[None]
        + a[:, :1, None] * d1[None]
        + a[:, 1:, None] * d2[None]
        + rng.normal(0, 0.01, (n, NUM_POINTS, 3))
    )
    return lm.astype(np.float32), 5 * a


def test_synth_intensities_are_five_times_the_truth():
    from aunce_rt.synthau import SynthAU

    got = synth_intensities(np.array([3, 0]), seed=0, split="train")
    gen = SynthAU(seed=0, split="train")
    np.testing.assert_allclose(got, 5 * np.stack([gen.truth(3)[3], gen.truth(0)[3]]), rtol=1e-6)
    assert got.shape == (2, len(gen.au_codes)) and got.min() >= 0 and got.max() <= 5


def test_ridge_head_recovers_a_linear_intensity_and_is_mirror_symmetric():
    face, perm = _symmetric_face()
    lm, y = _data(300, 1, perm, face)
    head = fit_ridge(lm, y, alpha=0.1, perm=perm)
    test_lm, test_y = _data(50, 2, perm, face)
    np.testing.assert_allclose(head.logits(test_lm), test_y, atol=0.1)
    # symmetrised: a face and its mirror image get the same intensities (to float32 precision)
    np.testing.assert_allclose(head.logits(mirror_landmarks(test_lm, perm)), head.logits(test_lm), atol=1e-3)


def test_fit_intensity_chooses_the_alpha_of_the_best_validation_icc():
    face, perm = _symmetric_face()
    train, val = _data(200, 3, perm, face), _data(60, 4, perm, face)
    fit = fit_intensity(train, val, perm=perm, alphas=(0.1, 1e6))
    assert set(fit.validation_icc) == {0.1, 1e6} and fit.alpha == 0.1 and fit.rows == 400
    assert fit.validation_icc[0.1] > 0.95 > fit.validation_icc[1e6]  # a crushing ridge flattens the output
    offset = np.full((NUM_POINTS, 3), 0.5)
    shifted = fit_intensity(train, val, perm=None, offset=offset, alphas=(0.1,))
    # the head fitted on shifted geometry reads unshifted faces with a constant bias: ICC is blind to it
    assert shifted.validation_icc[0.1] == pytest.approx(fit.validation_icc[0.1], abs=0.02)
    with pytest.raises(ValueError, match="alphas"):
        fit_intensity(train, val, perm=None, alphas=())
