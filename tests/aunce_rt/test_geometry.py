"""aunce_rt.geometry: the aligned landmark geometry models take, and its mirror."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.geometry import NUM_POINTS, aligned_landmarks, mirror_landmarks


def _face(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(100, 300, (NUM_POINTS, 2)), rng.normal(0, 10, NUM_POINTS)


def _similarity(points: np.ndarray, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, s], [-s, c]]) + np.asarray(shift)


def test_aligned_geometry_ignores_where_the_face_is_and_how_big():
    pts, z = _face()
    ref = aligned_landmarks(pts, z)
    moved = aligned_landmarks(_similarity(pts, 0.3, 2.5, (40.0, -25.0)), 2.5 * z)  # z in pixels scales too
    assert ref.shape == (NUM_POINTS, 3) and ref.dtype == np.float32
    np.testing.assert_allclose(moved, ref, atol=1e-3)


def test_aligned_geometry_changes_with_the_expression():
    pts, z = _face()
    other = pts.copy()
    other[61:62] += 15.0  # one mouth point moves
    assert np.abs(aligned_landmarks(other, z) - aligned_landmarks(pts, z)).max() > 1.0


def test_bad_shapes_are_refused():
    pts, z = _face()
    with pytest.raises(InputError, match="478"):
        aligned_landmarks(pts[:68], z[:68])


def test_mirror_reflects_x_and_reindexes():
    perm = np.arange(NUM_POINTS)[::-1].copy()  # any involution
    geo = np.random.default_rng(1).uniform(0, 224, (2, NUM_POINTS, 3)).astype(np.float32)
    out = mirror_landmarks(geo, perm)
    np.testing.assert_allclose(out[:, 0, 0], 224 - geo[:, -1, 0])
    np.testing.assert_allclose(out[:, 0, 1:], geo[:, -1, 1:])
    np.testing.assert_allclose(mirror_landmarks(out, perm), geo, atol=1e-4)  # twice = identity
