"""Tests of aunce_rt.smoothing.CausalSmoother."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.smoothing import CausalSmoother


def test_alpha_one_is_identity() -> None:
    sm = CausalSmoother(1.0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = rng.random(12).astype(np.float32)
        np.testing.assert_array_equal(sm.update(0, p), p)


def test_step_response_matches_closed_form() -> None:
    alpha = 0.3
    sm = CausalSmoother(alpha)
    sm.update(0, np.zeros(2))
    out = [sm.update(0, np.ones(2))[0] for _ in range(10)]
    expected = [1 - (1 - alpha) ** t for t in range(1, 11)]
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_matches_reference_loop_and_is_causal() -> None:
    rng = np.random.default_rng(1)
    seq = rng.random((20, 3)).astype(np.float32)
    alpha = 0.4
    sm = CausalSmoother(alpha)
    got = np.stack([sm.update(7, p) for p in seq])
    ref = np.empty_like(seq)
    ref[0] = seq[0]
    for t in range(1, len(seq)):
        ref[t] = alpha * seq[t] + (1 - alpha) * ref[t - 1]
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    # a prefix of the stream gives the same values as the whole stream (no look-ahead)
    sm2 = CausalSmoother(alpha)
    prefix = np.stack([sm2.update(7, p) for p in seq[:8]])
    np.testing.assert_array_equal(prefix, got[:8])


def test_tracks_are_independent_and_drop_forgets() -> None:
    sm = CausalSmoother(0.5)
    sm.update(0, np.array([0.0]))
    sm.update(1, np.array([1.0]))
    np.testing.assert_allclose(sm.update(0, np.array([1.0])), [0.5])
    np.testing.assert_allclose(sm.update(1, np.array([1.0])), [1.0])
    sm.drop(0)
    np.testing.assert_allclose(sm.update(0, np.array([1.0])), [1.0])
    sm.retain([1])
    assert sm.track_ids == [1]
    sm.drop(42)  # unknown: no error
    sm.reset()
    assert sm.track_ids == []


def test_returns_a_new_array() -> None:
    sm = CausalSmoother(0.5)
    p = np.array([0.2, 0.4], np.float32)
    out = sm.update(0, p)
    out[:] = 9
    np.testing.assert_allclose(sm.update(0, p), [0.2, 0.4])


def test_invalid_alpha_and_shape_change() -> None:
    for alpha in (0.0, -0.1, 1.5):
        with pytest.raises(InputError, match="alpha"):
            CausalSmoother(alpha)
    sm = CausalSmoother(0.5)
    sm.update(0, np.zeros(3))
    with pytest.raises(InputError, match="drop"):
        sm.update(0, np.zeros(4))
