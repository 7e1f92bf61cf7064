"""Driver monitoring: drowsiness and distraction events from the per-frame face results.

`DriverMonitor` reads the `FrameResult` stream (head pose, eye and mouth opening from
`aunce_rt.face_geometry`) and yields `DriverEvent`s: blinks, eye closures, long eye
closures, yawns, glances away from a per-driver neutral pose learned online, and
changes of the drowsiness (PERCLOS) and distraction states. Thresholds, with their
sources: `MonitorConfig`. `EventLog` writes events as JSON Lines; `draw_driver` draws
the head-pose axes, gaze rays and states on a frame.

Example:
    >>> from aunce_rt import AUDetector
    >>> monitor = DriverMonitor()
    >>> with EventLog("events.jsonl") as log:  # doctest: +SKIP
    ...     for event in monitor.run(AUDetector().stream("drive.mp4")):
    ...         log.write(event)
"""

from __future__ import annotations

from aunce_rt.driver._config import MonitorConfig
from aunce_rt.driver._events import EVENT_KINDS, DriverEvent, DriverState, EventLog, FaceSignals
from aunce_rt.driver._monitor import DriverMonitor
from aunce_rt.driver._overlay import draw_driver

__all__ = [
    "EVENT_KINDS",
    "DriverEvent",
    "DriverMonitor",
    "DriverState",
    "EventLog",
    "FaceSignals",
    "MonitorConfig",
    "draw_driver",
]
