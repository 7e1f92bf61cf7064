"""`MonitorConfig`: the driver monitor's thresholds, each with where it comes from."""

from __future__ import annotations

from dataclasses import dataclass, fields

from aunce_rt.errors import InputError

SEATS = ("all", "left", "right")


@dataclass(frozen=True)
class MonitorConfig:
    """Thresholds of `DriverMonitor` (seconds, degrees, ratios); all configurable.

    Eye state is ``openness = clip((EAR - ear_shut) / (ear_open - ear_shut), 0, 1)``
    with ``ear_open`` learned per driver online (the widest EAR of the warm-up, then a
    running 80th percentile), so a driver with narrow eyes is not "closed" all the time.

    Attributes:
        ear_open_init: typical open-eye EAR (MediaPipe faces: 0.25-0.35); sets the step of
            the running percentile.
        ear_shut: EAR of fully shut eyes (the lids' landmarks keep a small gap).
        ear_open_tau_s: the running percentile moves by up to ``ear_open_init`` per this
            many seconds.
        closed_openness: openness at or below which the eyes count as >= 80 % closed:
            PERCLOS "P80" (Wierwille et al. 1994, "Research on vehicle-based driver
            status/performance monitoring", NHTSA; Dinges & Grace 1998, FHWA-MCRT-98-006).
        blink_openness: openness below which a blink or closure is under way (40 %: set on a
            SynthAU clip where squints (AU6+AU7) take MediaPipe's EAR to ~45 % openness and shut
            lids to < 20 %; `bench/bench_driver.py` scores it on another clip).
        reopen_openness: openness above which that blink or closure has ended (>=
            ``blink_openness``: a hysteresis, so a closure whose landmarks flicker is one event).
        blink_min_s, blink_max_s: closure durations counted as blinks; typical blinks last
            0.1-0.4 s (Caffier et al. 2003, Eur J Appl Physiol 89:319); longer ones are
            ``eye_closure`` events, a drowsiness sign. The minimum is 0: MediaPipe's tracking
            often shows a 0.2 s blink as one or two frames (measured on SynthAU).
        long_closure_s: an ``long_eye_closure`` alert once the eyes have been shut this long
            (the issue's > 2 s; Euro NCAP's driver-state protocol scores microsleep and sleep
            from eye closures of a few seconds; check the protocol version you target).
        perclos_window_s: PERCLOS window (1 min, Wierwille; Dinges & Grace).
        perclos_drowsy: PERCLOS at or above which the state is ``drowsy`` (0.15, the
            drowsiness criterion used with P80 by Wierwille et al. 1994).
        perclos_min_coverage: share of the window that must hold face data before
            PERCLOS decides the state (else ``unknown``).
        yawn_opening: mouth opening (inner-lip gap / mouth width) above which a yawn may be
            under way; speech stays below ~0.3, yawns reach 0.6+ (landmark-based
            monitors commonly use 0.5-0.6).
        yawn_min_s: the mouth must stay that open this long (yawns last ~4-7 s; speech and
            laughter open it briefly).
        away_yaw_deg, away_pitch_deg: head turn from the learned neutral pose counted as a
            glance away from the road (mirrors and the instrument cluster sit ~20-30 deg off).
        long_glance_s: ``long_glance_away`` alert: a single glance this long (NHTSA's
            visual-manual guidelines, 2013: glances away <= 2 s; Euro NCAP's "long
            distraction" uses 3-4 s depending on speed).
        glance_min_s: shortest glance reported as a ``glance_away`` event.
        cumulative_window_s, cumulative_away_s: ``distracted`` when the eyes-off-road time
            within the window reaches this (Euro NCAP's visual time-sharing: 10 s in 30 s).
        neutral_tau_s: time constant of the per-driver neutral pose (an EMA over on-road frames).
        neutral_warmup_s: seconds of face data that set the first neutral pose (no glance
            events before it is set).
        max_gap_s: a track unseen longer than this breaks its running blink, closure, yawn
            and glance (they are dropped: their end is unknown).
        lost_after_s: ``face_lost`` after a track has been unseen this long; its
            drowsiness and distraction states then become ``unknown`` (no face, no verdict).
        driver_seat: who is monitored. ``"all"``: every face, each its own track (the
            tracker's ids follow people). ``"left"`` / ``"right"``: only the driver, the
            largest face whose box centre is in that half of the image as the camera sees
            it (a mirrored webcam preview flips it); when people swap seats, the monitor
            follows the seat, so the new driver gets their own track.
        seat_margin: a track's seat is the image half its box centre is in, counted only
            this share of the width or more off the centre; a track that changes seats
            learns its neutral head pose again (a passenger's neutral is not the driver's).
            0.2: a lone person before a centred webcam leans within -0.29..+0.14
            (openface_default.wmv) without changing seats; a cabin camera sees the two
            front seats ~0.3 off the centre.
    """

    ear_open_init: float = 0.28
    ear_shut: float = 0.06
    ear_open_tau_s: float = 10.0
    closed_openness: float = 0.2
    blink_openness: float = 0.4
    reopen_openness: float = 0.5
    blink_min_s: float = 0.0
    blink_max_s: float = 0.5
    long_closure_s: float = 2.0
    perclos_window_s: float = 60.0
    perclos_drowsy: float = 0.15
    perclos_min_coverage: float = 0.5
    yawn_opening: float = 0.5
    yawn_min_s: float = 1.5
    away_yaw_deg: float = 25.0
    away_pitch_deg: float = 20.0
    long_glance_s: float = 2.0
    glance_min_s: float = 0.5
    cumulative_window_s: float = 30.0
    cumulative_away_s: float = 10.0
    neutral_tau_s: float = 30.0
    neutral_warmup_s: float = 2.0
    max_gap_s: float = 0.5
    lost_after_s: float = 1.0
    driver_seat: str = "all"
    seat_margin: float = 0.2

    def __post_init__(self) -> None:
        if self.driver_seat not in SEATS:
            raise InputError(f"MonitorConfig.driver_seat must be one of {SEATS}; got {self.driver_seat!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "driver_seat" and not value >= 0:
                raise InputError(f"MonitorConfig.{f.name} must be >= 0; got {value}")
        if not 0 <= self.ear_shut < self.ear_open_init:
            raise InputError(
                f"MonitorConfig needs ear_shut < ear_open_init; got {self.ear_shut} >= {self.ear_open_init}"
            )
        if not self.closed_openness <= self.blink_openness <= self.reopen_openness <= 1:
            raise InputError(
                "MonitorConfig needs closed_openness <= blink_openness <= reopen_openness <= 1; got "
                f"{self.closed_openness}, {self.blink_openness}, {self.reopen_openness}"
            )
        if self.blink_min_s > self.blink_max_s:
            raise InputError(f"blink_min_s {self.blink_min_s} > blink_max_s {self.blink_max_s}")
