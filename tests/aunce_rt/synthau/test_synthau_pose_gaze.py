"""SynthAU clips with a given head-pose trajectory and per-frame gaze (driver-monitoring truth)."""

from __future__ import annotations

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.synthau._io import render_frames

SIZE = (160, 120)


def _render(**kwargs: object) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    frames: list[np.ndarray] = []
    _, landmarks, poses = render_frames(frames.append, n_frames=2, size=SIZE, seed=5, **kwargs)  # type: ignore[arg-type]
    return frames, landmarks, poses


def test_given_poses_replace_only_the_head_motion() -> None:
    plain, _, own = _render()
    same, _, _ = _render(poses=own)  # the seed's own trajectory, passed in: identical frames
    assert all(np.array_equal(a, b) for a, b in zip(plain, same, strict=True))
    sweep = np.array([[30.0, -15.0, 0.0], [-30.0, 15.0, 5.0]])
    turned, marks, poses = _render(poses=sweep)
    assert np.allclose(poses, sweep)
    assert not np.array_equal(turned[0], plain[0])
    # yaw > 0 turns the face to image right: the nose tip moves right of the eyes' midpoint
    eyes = marks[:, 36:48].mean(axis=1)
    assert marks[0, 30, 0] > eyes[0, 0] and marks[1, 30, 0] < eyes[1, 0]


def test_gaze_moves_only_the_irises() -> None:
    plain, marks, _ = _render()
    looking, marks2, _ = _render(gaze=np.array([[4.0, 0.0], [-4.0, 0.0]]))
    assert np.array_equal(marks, marks2)  # landmarks (lids, corners) do not move
    diff = np.abs(looking[0].astype(int) - plain[0].astype(int)).sum(axis=2) > 30
    ys, xs = np.nonzero(diff)
    assert len(xs) > 0
    lo, hi = marks[0, 36:48].min(axis=0) - 2, marks[0, 36:48].max(axis=0) + 2
    assert (xs >= lo[0]).all() and (xs <= hi[0]).all() and (ys >= lo[1]).all() and (ys <= hi[1]).all()


def test_wrong_shapes_say_what_is_needed() -> None:
    with pytest.raises(InputError, match=r"poses \(T, 3\)"):
        _render(poses=np.zeros((3, 3)))
    with pytest.raises(InputError, match=r"gaze \(T, 2\)"):
        _render(gaze=np.zeros(2))
