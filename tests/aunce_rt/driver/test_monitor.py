"""DriverMonitor on synthetic signal series with known blinks, closures, PERCLOS, yawns, glances."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aunce_rt.driver import DriverEvent, DriverMonitor, EventLog, FaceSignals, MonitorConfig
from aunce_rt.errors import InputError
from aunce_rt.results import FrameResult
from tests.aunce_rt.synthetic_face import H, W, face_model, face_result, project

FPS = 30.0
OPEN, SHUT = 0.30, 0.06


def feed(monitor: DriverMonitor, ear, mouth=None, yaw=None, pitch=None, face_id: int = 0, t0: float = 0.0):
    n = len(ear)
    mouth = np.zeros(n) if mouth is None else mouth
    yaw = np.zeros(n) if yaw is None else yaw
    pitch = np.zeros(n) if pitch is None else pitch
    events: list[DriverEvent] = []
    for i in range(n):
        s = FaceSignals(float(ear[i]), float(mouth[i]), float(pitch[i]), float(yaw[i]))
        events += monitor.observe(face_id, t0 + i / FPS, i, s)
    return events


def kinds(events: list[DriverEvent], kind: str) -> list[DriverEvent]:
    return [e for e in events if e.kind == kind]


def series(seconds: float, closed: list[tuple[float, float]]) -> np.ndarray:
    t = np.arange(int(seconds * FPS)) / FPS
    ear = np.full(t.shape, OPEN)
    for start, dur in closed:
        ear[(t >= start - 1e-9) & (t < start + dur - 1e-9)] = SHUT
    return ear


def test_blinks_closures_and_long_closure() -> None:
    blinks = [(3.0 + 4 * k, 0.2) for k in range(10)]
    ear = series(60, [*blinks, (45.0, 1.0), (50.0, 2.5)])
    events = feed(DriverMonitor(), ear)
    got = kinds(events, "blink")
    assert len(got) == len(blinks)
    for e, (start, dur) in zip(got, blinks, strict=True):
        assert e.start == pytest.approx(start, abs=1 / FPS)
        assert e.duration == pytest.approx(dur, abs=1.5 / FPS)
        assert e.end == pytest.approx(start + dur, abs=1 / FPS)
    closures = kinds(events, "eye_closure")
    assert [round(e.duration, 1) for e in closures] == [1.0, 2.5]
    (alert,) = kinds(events, "long_eye_closure")
    assert alert.start == pytest.approx(50.0, abs=1 / FPS) and alert.end is None
    assert alert.time == pytest.approx(52.0, abs=1 / FPS)
    assert "asleep" in [e.detail for e in kinds(events, "drowsiness")]


def test_perclos_on_a_known_series() -> None:
    """Shut 1 s in every 5 s: PERCLOS 0.2 over any 60 s window; drowsy (>= 0.15)."""
    ear = series(90, [(5.0 * k + 2.0, 1.0) for k in range(18)])
    monitor = DriverMonitor()
    events = feed(monitor, ear[: int(20 * FPS)])
    assert monitor.states[0].perclos is None  # under half a window of data
    events += feed(monitor, ear[int(20 * FPS) :], t0=20.0)
    state = monitor.states[0]
    assert state.perclos == pytest.approx(0.2, abs=0.01)
    assert state.drowsiness == "drowsy"
    assert [e.detail for e in kinds(events, "drowsiness")][-1] == "drowsy"


def test_alert_driver_low_perclos() -> None:
    monitor = DriverMonitor()
    feed(monitor, series(70, [(3.0 + 4 * k, 0.2) for k in range(16)]))
    state = monitor.states[0]
    assert state.perclos is not None and state.perclos < 0.05
    assert state.drowsiness == "alert"
    assert state.blinks_per_min == pytest.approx(15, abs=1.5)


def test_open_eye_ear_is_learned_per_driver() -> None:
    """Narrow eyes (open EAR 0.16) are not read as closed once learned."""
    ear = np.full(int(60 * FPS), 0.16)
    monitor = DriverMonitor()
    feed(monitor, ear)
    assert monitor.states[0].openness > 0.9
    assert monitor.states[0].drowsiness == "alert"


def test_yawn() -> None:
    n = int(20 * FPS)
    mouth = np.full(n, 0.05)
    mouth[int(5 * FPS) : int(9 * FPS)] = 0.7  # a 4 s yawn
    mouth[int(12 * FPS) : int(12.5 * FPS)] = 0.7  # 0.5 s: speech, not a yawn
    (yawn,) = kinds(feed(DriverMonitor(), np.full(n, OPEN), mouth=mouth), "yawn")
    assert yawn.start == pytest.approx(5.0, abs=1 / FPS)
    assert yawn.duration == pytest.approx(4.0, abs=1.5 / FPS)


def test_glance_away_from_learned_neutral() -> None:
    n = int(30 * FPS)
    yaw = np.full(n, -10.0)  # camera off to one side: neutral yaw -10
    yaw[int(8 * FPS) : int(8.3 * FPS)] = 30  # 0.3 s: too short
    yaw[int(10 * FPS) : int(13 * FPS)] = 30  # 3 s at 40 deg off: a long glance
    yaw[int(20 * FPS) : int(22 * FPS)] = 10  # 20 deg off: under the 25 deg threshold
    monitor = DriverMonitor()
    events = feed(monitor, np.full(n, OPEN), yaw=yaw)
    (glance,) = kinds(events, "glance_away")
    assert glance.start == pytest.approx(10.0, abs=1 / FPS)
    assert glance.duration == pytest.approx(3.0, abs=1.5 / FPS)
    (alert,) = kinds(events, "long_glance_away")
    assert alert.time == pytest.approx(12.0, abs=1 / FPS)
    assert [e.detail for e in kinds(events, "distraction")] == ["attentive", "distracted", "attentive"]
    assert monitor.states[0].yaw_offset == pytest.approx(0.0, abs=1.0)


def test_cumulative_glances_make_distracted() -> None:
    """1.5 s glances every 3 s: no single long glance, but >= 10 s away within 30 s."""
    n = int(40 * FPS)
    yaw = np.zeros(n)
    for k in range(12):
        start = int((5 + 3 * k) * FPS)
        yaw[start : start + int(1.5 * FPS)] = 40
    events = feed(DriverMonitor(), np.full(n, OPEN), yaw=yaw)
    assert not kinds(events, "long_glance_away")
    assert len(kinds(events, "glance_away")) == 12
    assert "distracted" in [e.detail for e in kinds(events, "distraction")]


def test_face_lost_and_found_breaks_running_episodes() -> None:
    monitor = DriverMonitor()
    ear = series(5, [(4.9, 1.0)])  # eyes shutting as the face leaves
    events = feed(monitor, ear)
    for i in range(60):  # 2 s without a face
        events += monitor.update(
            FrameResult(index=150 + i, timestamp=5.0 + i / FPS, faces=(), width=W, height=H)
        )
    (lost,) = kinds(events, "face_lost")
    assert lost.start == pytest.approx(4.0 + 29 / 30, abs=1e-6)
    assert lost.time == pytest.approx(lost.start + 1.0, abs=1 / FPS)
    events = feed(monitor, series(1, []), t0=7.0)
    assert [e.kind for e in events][0] == "face_found"
    assert not kinds(events, "eye_closure") and not kinds(events, "blink")


def test_tracks_are_independent_and_forgotten() -> None:
    monitor = DriverMonitor()
    a = feed(monitor, series(10, [(2.0, 0.2)]), face_id=0)
    b = feed(monitor, series(10, [(5.0, 0.2), (7.0, 0.2)]), face_id=1)
    assert len(kinds(a, "blink")) == 1 and len(kinds(b, "blink")) == 2
    monitor.update(FrameResult(index=0, timestamp=80.0, faces=(), width=W, height=H))
    assert monitor.states == {}


def test_memory_is_bounded_on_a_30_minute_stream() -> None:
    monitor = DriverMonitor()
    ear = series(30 * 60, [(4.0 * k + 1, 0.2) for k in range(450)])
    feed(monitor, ear)
    track = monitor._tracks[0]
    assert len(track.perclos.samples) <= 60 * FPS + 1
    assert len(track.away.samples) <= 30 * FPS + 1
    assert len(track.blinks) <= 16


def test_update_reads_face_results() -> None:
    """Through FrameResults of synthetic faces: a blink of 0.2 s."""
    monitor = DriverMonitor()
    events: list[DriverEvent] = []
    for i in range(60):
        pts, z = project(face_model(openness=0.0 if 30 <= i < 36 else 1.0), 0, 5, 0)
        face = face_result(pts, z, face_id=3)
        events += monitor.update(FrameResult(index=i, timestamp=i / FPS, faces=(face,), width=W, height=H))
    (blink,) = kinds(events, "blink")
    assert blink.face_id == 3 and blink.start == pytest.approx(1.0)


def test_event_log_jsonl(tmp_path: Path) -> None:
    events = feed(DriverMonitor(), series(5, [(2.0, 0.2)]))
    with EventLog(tmp_path / "e.jsonl") as log:
        for e in events:
            log.write(e)
    lines = [json.loads(x) for x in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert [x["kind"] for x in lines] == [e.kind for e in events]
    assert lines[-1]["kind"] == "blink" and lines[-1]["duration"] == pytest.approx(0.2, abs=0.04)


def test_config_is_validated() -> None:
    with pytest.raises(InputError, match="ear_shut"):
        MonitorConfig(ear_shut=0.3, ear_open_init=0.2)
    with pytest.raises(InputError, match="long_closure_s"):
        MonitorConfig(long_closure_s=-1)


def test_flickering_closure_is_one_event() -> None:
    """Hysteresis: a frame at 45 % openness inside a closure does not split it (reopen at 50 %)."""
    ear = series(10, [(4.0, 1.0)])
    ear[int(4.5 * FPS)] = SHUT + 0.45 * (OPEN - SHUT)
    events = feed(DriverMonitor(), ear)
    assert not kinds(events, "blink")
    (closure,) = kinds(events, "eye_closure")
    assert closure.duration == pytest.approx(1.0, abs=1.5 / FPS)
    split = feed(DriverMonitor(MonitorConfig(reopen_openness=0.4)), ear)
    assert len(kinds(split, "eye_closure")) + len(kinds(split, "blink")) == 2


def test_two_people_keep_their_own_neutral_pose() -> None:
    """Driver facing -10 deg, passenger +30 deg, in the same frames: no glance for either;
    the passenger turning to the driver (+30 -> -5) is a glance of the passenger only."""
    monitor = DriverMonitor()
    events: list[DriverEvent] = []
    for i in range(int(12 * FPS)):
        t = i / FPS
        passenger_yaw = -5.0 if 6.0 <= t < 9.0 else 30.0
        events += monitor.observe(0, t, i, FaceSignals(OPEN, 0.0, 0.0, -10.0))
        events += monitor.observe(1, t, i, FaceSignals(OPEN, 0.0, 0.0, passenger_yaw))
    glances = kinds(events, "glance_away")
    assert [(e.face_id, round(e.duration, 1)) for e in glances] == [(1, 3.0)]
    assert monitor.states[0].distraction == "attentive"
