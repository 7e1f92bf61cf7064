"""`DriverMonitor`: causal per-track drowsiness and distraction events from `FrameResult`s."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from aunce_rt.driver._config import MonitorConfig
from aunce_rt.driver._events import DriverEvent, DriverState, FaceSignals
from aunce_rt.results import FaceResult, FrameResult

log = logging.getLogger(__name__)


class _Window:
    """Time-weighted share of True over a sliding window: O(1) per sample, bounded memory."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.samples: deque[tuple[float, float, bool]] = deque()  # (time, weight s, flag)
        self.total = 0.0
        self.true = 0.0

    def add(self, t: float, weight: float, flag: bool) -> None:
        self.samples.append((t, weight, flag))
        self.total += weight
        self.true += weight if flag else 0.0
        while self.samples and t - self.samples[0][0] >= self.seconds:
            _, w, f = self.samples.popleft()
            self.total -= w
            self.true -= w if f else 0.0

    def share(self) -> float:
        return self.true / self.total if self.total > 1e-9 else 0.0


@dataclass
class _Track:
    """Mutable per-track state (private)."""

    perclos: _Window
    away: _Window
    last_t: float = math.nan
    ear_open: float = 0.0
    closure_start: float | None = None
    long_alerted: bool = False
    yawn_start: float | None = None
    glance_start: float | None = None
    glance_alerted: bool = False
    warm_s: float = 0.0
    warm_sum: list[float] = field(default_factory=lambda: [0.0, 0.0])
    warm_n: int = 0
    neutral: tuple[float, float] | None = None  # (pitch, yaw) degrees
    blinks: deque[float] = field(default_factory=deque)
    lost: bool = False
    seat: str = ""  # "left" / "right" half of the image (update() only)
    drowsiness: str = "unknown"
    distraction: str = "unknown"


class DriverMonitor:
    """Blinks, eye closures, PERCLOS, yawns, glances away and drowsiness/distraction states.

    Causal (a frame's events depend only on frames up to it: live = offline), per track
    (``FaceResult.face_id``; every face is monitored, each with its own learned open-eye
    EAR and neutral head pose). Thresholds and their sources: `MonitorConfig`.
    Memory per track is bounded by the windows (``perclos_window_s`` of samples);
    tracks unseen for a whole PERCLOS window are forgotten.

    Missing faces: a gap over ``max_gap_s`` drops the running blink, closure, yawn and
    glance (their end is unknown: no closure is made of a face that is not there);
    after ``lost_after_s`` a ``face_lost`` event and both states go ``unknown``. A face
    that returns under the same id (the tracker re-identified it) keeps its learned
    open-eye EAR and neutral pose (nothing updates them while it is away); a new id
    warms up afresh. Who is monitored: ``MonitorConfig.driver_seat`` (all faces, or the
    driver's seat only); a track that changes seats learns its neutral pose again.

    Args:
        config: thresholds (default `MonitorConfig()`).

    Attributes:
        states: face_id -> `DriverState` after its latest frame.

    Example:
        >>> monitor = DriverMonitor()
        >>> for event in monitor.run(detector.stream("drive.mp4")):  # doctest: +SKIP
        ...     print(event.kind, event.start, event.duration)
    """

    def __init__(self, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self.states: dict[int, DriverState] = {}
        self._tracks: dict[int, _Track] = {}

    def run(self, results: Iterable[FrameResult]) -> Iterator[DriverEvent]:
        """Events of a stream of `FrameResult`s, as a generator."""
        for result in results:
            yield from self.update(result)

    def update(self, result: FrameResult) -> list[DriverEvent]:
        """Events raised by one frame (pose from `FaceResult.geometry`)."""
        t = float(result.timestamp)
        events: list[DriverEvent] = []
        faces = self._monitored(result)
        for face in faces:
            self._seat(face.face_id, float(face.box[0] + face.box[2]) / 2.0, result.width)
            signals = FaceSignals.from_geometry(face.geometry(result.width, result.height))
            events += self.observe(face.face_id, t, result.index, signals)
        seen = {f.face_id for f in faces}
        events += self._check_lost(t, result.index, seen)
        return events

    def observe(self, face_id: int, t: float, frame: int, s: FaceSignals) -> list[DriverEvent]:
        """Events raised by one face's signals at time ``t`` (s); the low-level entry point."""
        cfg = self.config
        tr = self._tracks.get(face_id)
        if tr is None:
            tr = _Track(
                _Window(cfg.perclos_window_s), _Window(cfg.cumulative_window_s), ear_open=cfg.ear_open_init
            )
            self._tracks[face_id] = tr
        events: list[DriverEvent] = []

        def emit(kind: str, start: float, end: float | None, detail: str = "") -> None:
            events.append(DriverEvent(kind, face_id, frame, t, start, end, (end or t) - start, detail))

        if tr.lost:
            tr.lost = False
            emit("face_found", t, t)
        dt = t - tr.last_t if math.isfinite(tr.last_t) else 0.0
        if dt > cfg.max_gap_s or dt < 0:  # a gap (or a rewound clock): running episodes are unknowable
            tr.closure_start = tr.yawn_start = tr.glance_start = None
            tr.long_alerted = tr.glance_alerted = False
            dt = 0.0
        tr.last_t = t

        # eyes: openness against this driver's learned open-eye EAR
        if tr.neutral is None:  # warm-up: open-eye EAR = the widest seen (drivers start with eyes open)
            tr.ear_open = max(s.ear, cfg.ear_shut + 0.02) if tr.warm_n == 0 else max(tr.ear_open, s.ear)
        elif dt > 0:  # then track its 80th percentile (stochastic quantile): closures do not pull it down
            step = cfg.ear_open_init * dt / cfg.ear_open_tau_s
            tr.ear_open += step * (0.8 if s.ear > tr.ear_open else -0.2)
            tr.ear_open = max(tr.ear_open, cfg.ear_shut + 0.02)
        span = max(tr.ear_open - cfg.ear_shut, 1e-6)
        openness = min(max((s.ear - cfg.ear_shut) / span, 0.0), 1.0)
        shut = openness < (cfg.blink_openness if tr.closure_start is None else cfg.reopen_openness)
        if shut:
            if tr.closure_start is None:
                tr.closure_start, tr.long_alerted = t, False
            if t - tr.closure_start >= cfg.long_closure_s and not tr.long_alerted:
                tr.long_alerted = True
                emit("long_eye_closure", tr.closure_start, None)
        elif tr.closure_start is not None:
            duration = t - tr.closure_start
            if cfg.blink_min_s <= duration <= cfg.blink_max_s:
                emit("blink", tr.closure_start, t)
                tr.blinks.append(t)
            elif duration > cfg.blink_max_s:
                emit("eye_closure", tr.closure_start, t)
            tr.closure_start = None
        tr.perclos.add(t, dt, openness <= cfg.closed_openness)
        while tr.blinks and t - tr.blinks[0] >= cfg.perclos_window_s:
            tr.blinks.popleft()

        # mouth
        if s.mouth_opening >= cfg.yawn_opening:
            tr.yawn_start = t if tr.yawn_start is None else tr.yawn_start
        elif tr.yawn_start is not None:
            if t - tr.yawn_start >= cfg.yawn_min_s:
                emit("yawn", tr.yawn_start, t)
            tr.yawn_start = None

        # head: glances away from a neutral pose learned online
        away = False
        if tr.neutral is None:
            tr.warm_s += dt
            tr.warm_sum[0] += s.pitch
            tr.warm_sum[1] += s.yaw
            tr.warm_n += 1
            if tr.warm_s >= cfg.neutral_warmup_s:
                tr.neutral = (tr.warm_sum[0] / tr.warm_n, tr.warm_sum[1] / tr.warm_n)
        else:
            d_pitch, d_yaw = s.pitch - tr.neutral[0], s.yaw - tr.neutral[1]
            away = abs(d_yaw) > cfg.away_yaw_deg or abs(d_pitch) > cfg.away_pitch_deg
            if not away and dt > 0:
                alpha = 1.0 - math.exp(-dt / cfg.neutral_tau_s)
                tr.neutral = (tr.neutral[0] + alpha * d_pitch, tr.neutral[1] + alpha * d_yaw)
        if away:
            if tr.glance_start is None:
                tr.glance_start, tr.glance_alerted = t, False
            if t - tr.glance_start >= cfg.long_glance_s and not tr.glance_alerted:
                tr.glance_alerted = True
                emit("long_glance_away", tr.glance_start, None)
        elif tr.glance_start is not None:
            if t - tr.glance_start >= cfg.glance_min_s:
                emit("glance_away", tr.glance_start, t)
            tr.glance_start = None
        tr.away.add(t, dt, away)

        # states
        perclos = (
            tr.perclos.share()
            if tr.perclos.total >= cfg.perclos_min_coverage * cfg.perclos_window_s
            else None
        )
        if tr.closure_start is not None and t - tr.closure_start >= cfg.long_closure_s:
            drowsiness = "asleep"
        elif perclos is None:
            drowsiness = "unknown"
        else:
            drowsiness = "drowsy" if perclos >= cfg.perclos_drowsy else "alert"
        if tr.neutral is None:
            distraction = "unknown"
        else:
            long_glance = tr.glance_start is not None and t - tr.glance_start >= cfg.long_glance_s
            distraction = (
                "distracted" if long_glance or tr.away.true >= cfg.cumulative_away_s else "attentive"
            )
        if drowsiness != tr.drowsiness:
            tr.drowsiness = drowsiness
            emit("drowsiness", t, t, drowsiness)
        if distraction != tr.distraction:
            tr.distraction = distraction
            emit("distraction", t, t, distraction)
        covered = tr.perclos.total
        self.states[face_id] = DriverState(
            face_id=face_id,
            time=t,
            openness=openness,
            perclos=perclos,
            blinks_per_min=len(tr.blinks) * 60.0 / covered
            if covered >= cfg.perclos_min_coverage * cfg.perclos_window_s
            else None,
            yaw_offset=None if tr.neutral is None else s.yaw - tr.neutral[1],
            pitch_offset=None if tr.neutral is None else s.pitch - tr.neutral[0],
            away_share=tr.away.share(),
            mouth_opening=s.mouth_opening,
            drowsiness=drowsiness,
            distraction=distraction,
        )
        return events

    def _monitored(self, result: FrameResult) -> list[FaceResult]:
        """The faces to monitor: all, or the largest one in the driver's half of the image."""
        seat = self.config.driver_seat
        if seat == "all":
            return list(result.faces)
        mid = result.width / 2.0
        in_seat = [f for f in result.faces if ((f.box[0] + f.box[2]) / 2.0 < mid) == (seat == "left")]
        if not in_seat:
            return []
        return [max(in_seat, key=lambda f: float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))]

    def _seat(self, face_id: int, centre_x: float, width: int) -> None:
        """Record a track's seat; when it changes, the neutral pose is learned again.

        A seat is a half of the image, taken only where the box centre is at least
        ``seat_margin`` x width off the centre: a lone driver leaning about a centred
        camera keeps their seat (and their neutral pose).
        """
        tr = self._tracks.get(face_id)
        offset = (centre_x - width / 2.0) / max(width, 1)
        if tr is None or abs(offset) < self.config.seat_margin:
            return
        side = "left" if offset < 0 else "right"
        if tr.seat and tr.seat != side:
            log.debug(
                "track %d moved from the %s seat to the %s one: neutral pose relearned",
                face_id,
                tr.seat,
                side,
            )
            tr.neutral, tr.warm_s, tr.warm_sum, tr.warm_n = None, 0.0, [0.0, 0.0], 0
            tr.glance_start, tr.glance_alerted = None, False
        tr.seat = side

    def _check_lost(self, t: float, frame: int, seen: set[int]) -> list[DriverEvent]:
        """``face_lost`` for tracks unseen for ``lost_after_s``; forget tracks unseen a whole window."""
        cfg = self.config
        events = []
        for face_id, tr in list(self._tracks.items()):
            if face_id in seen:
                continue
            gone = t - tr.last_t
            if gone >= cfg.lost_after_s and not tr.lost:
                tr.lost = True
                tr.closure_start = tr.yawn_start = tr.glance_start = None
                events.append(DriverEvent("face_lost", face_id, frame, t, tr.last_t, None, gone))
                for kind in ("drowsiness", "distraction"):
                    if getattr(tr, kind) != "unknown":
                        setattr(tr, kind, "unknown")
                        events.append(DriverEvent(kind, face_id, frame, t, t, t, 0.0, "unknown"))
                if face_id in self.states:
                    self.states[face_id] = replace(
                        self.states[face_id], drowsiness="unknown", distraction="unknown"
                    )
            if gone >= cfg.perclos_window_s:
                del self._tracks[face_id]
                self.states.pop(face_id, None)
                log.debug("forgot track %d, unseen for %.1f s", face_id, gone)
        return events
