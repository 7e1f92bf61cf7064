"""SynthAU eye closure: close_eyes moves the upper lids; render_frames(eye_closure=None) is unchanged."""

from __future__ import annotations

import numpy as np

from aunce_rt.synthau._expressions import apply_aus, close_eyes
from aunce_rt.synthau._identity import TEST_ID_BASE, make_identity
from aunce_rt.synthau._io import render_frames


def test_close_eyes_moves_upper_lids_onto_lower() -> None:
    person = make_identity(TEST_ID_BASE)
    expr = apply_aus(person.shape, {}, np.zeros((0, 2)))
    assert close_eyes(expr, 0.0) is expr
    shut = close_eyes(expr, 1.0)
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        assert np.allclose(shut.shape[upper], expr.shape[lower])
    half = close_eyes(expr, 0.5)
    assert np.allclose(half.shape[37], 0.5 * (expr.shape[37] + expr.shape[41]))
    untouched = [i for i in range(68) if i not in (37, 38, 43, 44)]
    assert np.array_equal(shut.shape[untouched], expr.shape[untouched])


def test_render_frames_with_and_without_closure() -> None:
    plain: list[np.ndarray] = []
    zeros: list[np.ndarray] = []
    shut: list[np.ndarray] = []
    render_frames(plain.append, n_frames=2, size=(160, 120))
    render_frames(zeros.append, n_frames=2, size=(160, 120), eye_closure=np.zeros(2))
    render_frames(shut.append, n_frames=2, size=(160, 120), eye_closure=np.ones(2))
    assert all(np.array_equal(a, b) for a, b in zip(plain, zeros, strict=True))
    assert not np.array_equal(plain[0], shut[0])
