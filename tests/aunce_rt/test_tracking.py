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


def _sig(value: float, size: int = 48) -> np.ndarray:
    return np.full((size,), value, np.float32)


def test_default_tracks_eight_faces() -> None:
    assert FaceTracker().update(_boxes(*[_box(200 * i) for i in range(8)])) == list(range(8))


def test_returning_face_is_reidentified_by_signature_after_max_lost() -> None:
    tracker = FaceTracker(max_lost=3, reid_frames=100)
    assert tracker.update(_boxes(_box(0), _box(300)), np.stack([_sig(0.2), _sig(0.6)])) == [0, 1]
    for _ in range(30):  # person 0 leaves for 30 frames
        assert tracker.update(_boxes(_box(300)), _sig(0.6)[None]) == [1]
    assert tracker.active_ids == [1]
    # comes back elsewhere: same appearance -> same id; a new person -> a new id
    ids = tracker.update(
        _boxes(_box(300), _box(700), _box(1000)), np.stack([_sig(0.6), _sig(0.21), _sig(0.9)])
    )
    assert ids == [1, 0, 2]
    assert sorted(tracker.active_ids) == [0, 1, 2]


def test_reidentification_forgets_after_reid_frames() -> None:
    tracker = FaceTracker(max_lost=1, reid_frames=5)
    tracker.update(_boxes(_box(0)), _sig(0.2)[None])
    for _ in range(10):
        tracker.update(_boxes())
    assert tracker.update(_boxes(_box(0)), _sig(0.2)[None]) == [1]


def test_signatures_veto_a_swap_when_two_faces_cross() -> None:
    """Two people cross: at the crossing the boxes overlap more with the other's track."""
    tracker = FaceTracker()
    a, b = _sig(0.2), _sig(0.6)
    assert tracker.update(_boxes(_box(0), _box(120)), np.stack([a, b])) == [0, 1]
    # a moved right by 100, b left by 100: each box now overlaps the other's track more
    assert tracker.update(_boxes(_box(100), _box(20)), np.stack([a, b])) == [0, 1]
    # without signatures the boxes alone swap the ids
    plain = FaceTracker()
    plain.update(_boxes(_box(0), _box(120)))
    assert plain.update(_boxes(_box(100), _box(20))) == [1, 0]


def test_lost_track_with_different_signature_is_not_continued_by_position() -> None:
    tracker = FaceTracker()
    tracker.update(_boxes(_box(0)), _sig(0.2)[None])
    tracker.update(_boxes())
    assert tracker.update(_boxes(_box(10)), _sig(0.8)[None]) == [1]  # someone else stepped in


def _five_points(ibug68: np.ndarray) -> np.ndarray:
    """A 478-point array holding the FaceMesh points the alignment reads (eyes, nose tip, mouth corners)."""
    p = np.zeros((478, 2), np.float32)
    for mp_idx, ib_idx in ((33, 36), (133, 39), (362, 42), (263, 45), (1, 30), (61, 48), (291, 54)):
        p[mp_idx] = ibug68[ib_idx]
    return p


def test_face_signature_is_stable_under_shift_and_scale_and_tells_people_apart() -> None:
    import cv2

    from aunce_rt.synthau import SynthAU
    from aunce_rt.tracking import face_signature, signature_distance

    ds = SynthAU(seed=0, split="test", degrade=False)
    s0, s1 = ds.render_sample(0), ds.render_sample(1)
    assert s0.identity != s1.identity
    a = face_signature(s0.image, _five_points(s0.landmarks))
    scaled = cv2.resize(s0.image, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
    big = np.zeros((scaled.shape[0] + 20, scaled.shape[1] + 30, 3), np.uint8)
    big[20:, 30:] = scaled
    b = face_signature(big, _five_points(s0.landmarks * 1.5 + np.array([30, 20], np.float32)))
    c = face_signature(s1.image, _five_points(s1.landmarks))
    assert a.shape == (48,)
    assert signature_distance(a, b) < 0.02 < signature_distance(a, c)
