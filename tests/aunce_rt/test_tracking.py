"""Tests of aunce_rt.tracking.FaceTracker: stable ids, re-identification, new ids, max_faces."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.tracking import FaceTracker


def _box(x: float, y: float = 50.0, size: float = 100.0) -> list[float]:
    return [x, y, x + size, y + size]


def _boxes(*boxes: list[float]) -> np.ndarray:
    return np.array(boxes, np.float32).reshape(-1, 4)


def test_new_faces_get_increasing_ids_from_zero() -> None:
    tracker = FaceTracker()
    assert tracker.update(_boxes(_box(0), _box(300))) == [0, 1]
    assert tracker.update(_boxes(_box(2), _box(302), _box(600))) == [0, 1, 2]


def test_two_faces_swapping_order_keep_their_ids() -> None:
    tracker = FaceTracker()
    assert tracker.update(_boxes(_box(0), _box(300))) == [0, 1]
    for step in range(1, 6):
        ids = tracker.update(_boxes(_box(300 + step * 3), _box(step * 3)))
        assert ids == [1, 0]


def test_face_missing_for_five_frames_returns_with_same_id() -> None:
    tracker = FaceTracker(max_lost=15)
    tracker.update(_boxes(_box(0), _box(300)))
    for _ in range(5):
        assert tracker.update(_boxes(_box(300))) == [1]
    assert tracker.update(_boxes(_box(10), _box(300))) == [0, 1]


def test_centre_distance_fallback_reidentifies_a_moved_face() -> None:
    tracker = FaceTracker(iou_threshold=0.3)
    tracker.update(_boxes(_box(0)))
    tracker.update(_boxes())
    # moved 70 px: IoU ~0.18 < 0.3, centre distance 0.7 face sizes < 1
    assert tracker.update(_boxes(_box(70))) == [0]
    # far away: a new face
    assert tracker.update(_boxes(_box(70), _box(600))) == [0, 1]


def test_face_lost_longer_than_max_lost_gets_a_new_id() -> None:
    tracker = FaceTracker(max_lost=3)
    tracker.update(_boxes(_box(0)))
    for _ in range(4):
        assert tracker.update(_boxes()) == []
    assert tracker.active_ids == []
    assert tracker.update(_boxes(_box(0))) == [1]


def test_very_different_size_is_not_reidentified_by_distance() -> None:
    tracker = FaceTracker()
    tracker.update(_boxes(_box(0, size=100)))
    tracker.update(_boxes())
    assert tracker.update(_boxes(_box(40, size=20))) == [1]


def test_max_faces_keeps_the_largest() -> None:
    tracker = FaceTracker(max_faces=2)
    ids = tracker.update(_boxes(_box(0, size=40), _box(200, size=120), _box(500, size=90)))
    assert ids == [-1, 0, 1]
    assert sorted(tracker.active_ids) == [0, 1]


def test_reset_and_validation() -> None:
    tracker = FaceTracker()
    tracker.update(_boxes(_box(0)))
    tracker.reset()
    assert tracker.active_ids == []
    assert tracker.update(_boxes(_box(400))) == [0]
    with pytest.raises(InputError, match="max_faces"):
        FaceTracker(max_faces=0)
    with pytest.raises(InputError, match="iou_threshold"):
        FaceTracker(iou_threshold=0.0)
