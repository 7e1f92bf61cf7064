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


def _rotation(pitch: float, yaw: float) -> np.ndarray:
    cx, sx, cy, sy = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return ry @ rx


def test_frontalise_undoes_a_turned_head():
    from aunce_rt.geometry import frontalise

    ref = np.random.default_rng(2).uniform(0, 224, (NUM_POINTS, 3))
    turned = 0.8 * (ref - 112) @ _rotation(0.3, -0.4).T + 112 + np.array([4.0, -3.0, 10.0])
    np.testing.assert_allclose(frontalise(turned, ref), ref, atol=1e-3)
    batch = np.stack([turned, ref])
    np.testing.assert_allclose(frontalise(batch, ref), np.stack([ref, ref]), atol=1e-3)


def test_frontalise_commutes_with_the_mirror_for_a_symmetric_reference():
    from aunce_rt.geometry import frontalise

    perm = np.arange(NUM_POINTS)[::-1].copy()
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 224, (NUM_POINTS, 3))
    ref = (base + mirror_landmarks(base, perm)) / 2  # symmetric
    face = ref + rng.normal(0, 2, ref.shape)
    face = (face - 112) @ _rotation(0.2, 0.3).T + 112
    points = tuple(sorted({*range(0, 40), *perm[:40].tolist()}))  # a mirror-closed set, as STABLE_POINTS is
    a = mirror_landmarks(frontalise(face, ref, points), perm)
    b = frontalise(mirror_landmarks(face, perm), ref, points)
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_geometry_input_knows_its_specs():
    from aunce_rt.geometry import GEOMETRY_FRONTAL, GEOMETRY_SPEC, geometry_input

    pts, z = _face()
    np.testing.assert_allclose(geometry_input(pts, z, GEOMETRY_SPEC), aligned_landmarks(pts, z))
    with pytest.raises(InputError, match="reference"):
        geometry_input(pts, z, GEOMETRY_FRONTAL)
    with pytest.raises(InputError, match="unknown geometry"):
        geometry_input(pts, z, "other-v9")
