"""Tests of aunce_rt.boxes: the one IoU used by the landmark backends and the tracker."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.boxes import box_area, box_iou, box_of


def _slow_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (
        max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1]) + max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) - inter
    )
    return inter / union if union > 0 else 0.0


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 1 / 3),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
        ([0, 0, 10, 10], [2, 2, 8, 8], 0.36),
        ([5, 5, 5, 5], [5, 5, 5, 5], 0.0),  # degenerate: empty union
    ],
)
def test_iou_closed_form(a, b, expected):
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_iou_matches_a_slow_reference_and_is_symmetric():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (7, 2))
    a = np.concatenate([xy, xy + rng.uniform(-5, 40, (7, 2))], axis=1)
    b = a[::-1] + rng.normal(0, 5, a.shape)
    got = box_iou(a, b)
    assert got.shape == (7, 7)
    np.testing.assert_allclose(got, [[_slow_iou(x, y) for y in b] for x in a], atol=1e-12)
    np.testing.assert_allclose(box_iou(b, a), got.T)


def test_area_and_box_of():
    assert box_area(np.array([[0, 0, 4, 5], [3, 3, 1, 1]])).tolist() == [20, 0]
    np.testing.assert_array_equal(box_of(np.array([[1, 7], [4, 2], [3, 3]], np.float32)), [1, 2, 4, 7])
