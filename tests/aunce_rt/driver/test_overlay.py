"""draw_driver: draws pose axes, gaze and state on a copy; leaves the input alone."""

from __future__ import annotations

import numpy as np

from aunce_rt.driver import DriverMonitor, draw_driver
from aunce_rt.results import FaceResult, FrameResult
from tests.aunce_rt.synthetic_face import H, W, face_model, project


def test_draw_driver_marks_a_copy() -> None:
    pts, z = project(face_model(), 0, 15, 0)
    box = np.array([*pts.min(0), *pts.max(0)], np.float32)
    face = FaceResult(0, box, pts, 0.9, (12,), np.zeros(1, np.float32), np.zeros(1, bool), depth=z)
    result = FrameResult(index=0, timestamp=0.0, faces=(face,), width=W, height=H)
    monitor = DriverMonitor()
    monitor.update(result)
    frame = np.zeros((H, W, 3), np.uint8)
    out = draw_driver(frame, result, monitor.states)
    assert out.shape == frame.shape and not frame.any()
    changed = out.any(axis=2)
    assert changed.sum() > 200
    # the axes start at the nose tip
    x, y = (int(round(v)) for v in pts[1])
    assert changed[y - 2 : y + 3, x - 2 : x + 3].any()
    empty = draw_driver(frame, FrameResult(index=1, timestamp=0.1, faces=(), width=W, height=H), {})
    assert not empty.any()
