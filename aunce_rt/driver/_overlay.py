"""`draw_driver`: head-pose axes, gaze rays and the monitor's eye/drowsiness/distraction state."""

from __future__ import annotations

import cv2
import numpy as np

from aunce_rt.driver._events import DriverState
from aunce_rt.face_geometry import IRIS_CENTRE
from aunce_rt.overlay import face_colour
from aunce_rt.results import FrameResult

_AXES = ((0, 0, 255), (0, 255, 0), (255, 0, 0))  # BGR: head x red, y green, z blue (OpenCV's habit)
_WARN = (0, 0, 255)
_OK = (255, 255, 255)


def draw_driver(image_bgr: np.ndarray, result: FrameResult, states: dict[int, DriverState]) -> np.ndarray:
    """Return a copy of ``image_bgr`` with each face's pose axes, gaze and monitor state drawn.

    Args:
        image_bgr: ``(H, W, 3)`` uint8 BGR frame; not modified.
        result: the frame's results (faces with landmarks and depth).
        states: ``DriverMonitor.states`` after this frame.

    Returns:
        ``(H, W, 3)`` uint8 BGR annotated copy.

    Example:
        >>> out = draw_driver(frame, result, monitor.states)  # doctest: +SKIP
    """
    canvas = image_bgr.copy()
    scale = max(0.4, min(canvas.shape[:2]) / 900.0)
    thick = max(1, round(2 * scale))
    for face in result.faces:
        g = face.geometry(result.width, result.height)
        pts = np.asarray(face.landmarks, np.float64)
        size = float(np.linalg.norm(pts[263] - pts[33]))
        nose = pts[1]
        for axis, colour in zip(g.rotation.T, _AXES, strict=True):  # head axes in camera coordinates
            tip = nose + size * axis[:2] * (-1.0 if colour == _AXES[2] else 1.0)  # z drawn outwards
            cv2.line(canvas, _pt(nose), _pt(tip), colour, thick, cv2.LINE_AA)
        for gaze, iris in ((g.gaze_0, IRIS_CENTRE["right"]), (g.gaze_1, IRIS_CENTRE["left"])):
            start = pts[iris]
            cv2.line(
                canvas, _pt(start), _pt(start + 1.5 * size * gaze[:2]), (0, 255, 255), thick, cv2.LINE_AA
            )
        state = states.get(face.face_id)
        if state is None:
            continue
        perclos = "-" if state.perclos is None else f"{state.perclos:.2f}"
        lines = [
            (f"eyes {state.openness:.2f}  PERCLOS {perclos}", _OK),
            (state.drowsiness, _WARN if state.drowsiness in ("drowsy", "asleep") else _OK),
            (state.distraction, _WARN if state.distraction == "distracted" else _OK),
        ]
        x, y = int(face.box[0]), int(face.box[3] + 20 * scale)
        for text, colour in lines:
            cv2.putText(
                canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, colour, thick, cv2.LINE_AA
            )
            y += int(22 * scale)
        cv2.rectangle(canvas, _pt(face.box[:2]), _pt(face.box[2:]), face_colour(face.face_id), 1)
    return canvas


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))
