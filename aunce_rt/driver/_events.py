"""Typed driver-monitor records: `FaceSignals` in, `DriverEvent` and `DriverState` out; `EventLog`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from aunce_rt.errors import OutputError
from aunce_rt.face_geometry import FaceGeometry
from aunce_rt.sinks import check_output_path

EVENT_KINDS = (
    "blink",  # eyes shut for blink_min_s..blink_max_s (at the offset)
    "eye_closure",  # eyes shut longer than a blink (at the offset)
    "long_eye_closure",  # alert: eyes shut for long_closure_s, still shut (end is None)
    "yawn",  # mouth open >= yawn_opening for >= yawn_min_s (at the offset)
    "glance_away",  # head off the neutral pose for >= glance_min_s (at the return)
    "long_glance_away",  # alert: a glance away has lasted long_glance_s (end is None)
    "drowsiness",  # the drowsiness state changed (detail: unknown, alert, drowsy, asleep)
    "distraction",  # the distraction state changed (detail: unknown, attentive, distracted)
    "face_lost",  # the track has been unseen for lost_after_s (start: last seen)
    "face_found",  # a lost track is back
)


@dataclass(frozen=True)
class FaceSignals:
    """What the monitor reads from one face in one frame.

    Attributes:
        ear: mean eye aspect ratio of both eyes.
        mouth_opening: inner-lip gap over mouth width.
        pitch, yaw: head rotation in degrees (camera frame, `aunce_rt.face_geometry`).
    """

    ear: float
    mouth_opening: float
    pitch: float
    yaw: float

    @classmethod
    def from_geometry(cls, g: FaceGeometry) -> FaceSignals:
        """The signals of a `FaceGeometry`."""
        return cls(ear=g.ear, mouth_opening=g.mouth_opening, pitch=g.pitch, yaw=g.yaw)


@dataclass(frozen=True)
class DriverEvent:
    """One event of one track.

    Attributes:
        kind: one of ``EVENT_KINDS``.
        face_id: the track.
        frame: 0-based index of the frame that raised it.
        time: timestamp (s) of that frame.
        start: onset (s); end: offset (s), None for alerts raised while it lasts.
        duration: seconds from onset to offset (or to ``time`` for alerts).
        detail: the new state for ``drowsiness`` and ``distraction`` events, else "".
    """

    kind: str
    face_id: int
    frame: int
    time: float
    start: float
    end: float | None
    duration: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: one JSON Lines record."""
        return {
            "kind": self.kind,
            "face_id": self.face_id,
            "frame": self.frame + 1,
            "time": round(self.time, 3),
            "start": round(self.start, 3),
            "end": None if self.end is None else round(self.end, 3),
            "duration": round(self.duration, 3),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class DriverState:
    """A track's state after its latest frame.

    Attributes:
        face_id: the track.
        time: timestamp (s) of its latest frame.
        openness: eye openness in [0, 1] (1 = as open as this driver's learned open eyes).
        perclos: share of the last ``perclos_window_s`` with eyes >= 80 % closed, or None
            before the window holds ``perclos_min_coverage`` of face data.
        blinks_per_min: blinks in the last ``perclos_window_s``, per minute of face data.
        yaw_offset, pitch_offset: head rotation from the learned neutral pose (degrees), or
            None before it is learned.
        away_share: share of the last ``cumulative_window_s`` with the head away.
        mouth_opening: inner-lip gap over mouth width.
        drowsiness: ``unknown``, ``alert``, ``drowsy`` or ``asleep``.
        distraction: ``unknown``, ``attentive`` or ``distracted``.
    """

    face_id: int
    time: float
    openness: float
    perclos: float | None
    blinks_per_min: float | None
    yaw_offset: float | None
    pitch_offset: float | None
    away_share: float
    mouth_opening: float
    drowsiness: str
    distraction: str


class EventLog:
    """JSON Lines event writer, one line per `DriverEvent`, flushed per line.

    Example:
        >>> with EventLog("events.jsonl") as log:  # doctest: +SKIP
        ...     for event in monitor.run(detector.stream("drive.mp4")):
        ...         log.write(event)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = check_output_path(path)
        try:
            self._file: TextIO | None = open(self.path, "w", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise OutputError(
                f"cannot open {str(self.path)!r} for writing ({exc.strerror}); choose another path"
            ) from exc
        self.rows = 0

    def write(self, event: DriverEvent) -> None:
        """Append one event."""
        if self._file is None:
            raise OutputError(f"{str(self.path)!r} is closed; open a new EventLog to write more")
        self._file.write(json.dumps(event.to_dict(), separators=(",", ":")) + "\n")
        self.rows += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
