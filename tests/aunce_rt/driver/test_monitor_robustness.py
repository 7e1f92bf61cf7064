"""DriverMonitor on bad input: no face for a while, a face leaving and returning, seats swapped."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aunce_rt.boxes import box_of
from aunce_rt.driver import DriverEvent, DriverMonitor, MonitorConfig
from aunce_rt.errors import InputError
from aunce_rt.results import FaceResult, FrameResult
from tests.aunce_rt.synthetic_face import H, W, face_model, face_result, project

FPS = 30.0
LEFT, RIGHT = -200.0, 200.0  # face centre x in mm at 600 mm: image x ~107 px and ~533 px


def face(
    face_id: int, yaw: float = 0.0, seat: float = LEFT, openness: float = 1.0, scale: float = 1.0
) -> FaceResult:
    pts, z = project(face_model(openness=openness) * scale, 0.0, yaw, 0.0, t_mm=(seat, 0.0, 600.0))
    return replace(face_result(pts, z, face_id=face_id), box=box_of(pts))


class Clock:
    """Feeds frames at 30 fps and keeps every event."""

    def __init__(self, monitor: DriverMonitor) -> None:
        self.monitor, self.i, self.events = monitor, 0, []

    def run(self, seconds: float, make=lambda t: ()) -> list[DriverEvent]:
        new: list[DriverEvent] = []
        for _ in range(int(round(seconds * FPS))):
            t = self.i / FPS
            faces = tuple(make(t))
            new += self.monitor.update(FrameResult(index=self.i, timestamp=t, faces=faces, width=W, height=H))
            self.i += 1
        self.events += new
        return new

    def kinds(self, kind: str, events: list[DriverEvent] | None = None) -> list[DriverEvent]:
        return [e for e in (self.events if events is None else events) if e.kind == kind]


def test_no_face_makes_no_closure_and_states_go_unknown() -> None:
    """Eyes shut 1.5 s as the face leaves, 5 s of no face, back with eyes open: no closure
    event (its end is unknown), no long-closure alert, and no verdict while nobody is there."""
    clock = Clock(DriverMonitor())
    clock.run(4.0, lambda t: [face(0)])
    clock.run(1.5, lambda t: [face(0, openness=0.0)])
    gone = clock.run(5.0)
    (lost,) = clock.kinds("face_lost", gone)
    assert lost.start == pytest.approx(5.5 - 1 / FPS, abs=1e-6)
    state = clock.monitor.states[0]
    assert (state.drowsiness, state.distraction) == ("unknown", "unknown")
    assert [e.detail for e in clock.kinds("distraction", gone)] == ["unknown"]
    back = clock.run(3.0, lambda t: [face(0)])
    assert back[0].kind == "face_found"
    for kind in ("eye_closure", "long_eye_closure", "blink"):
        assert not clock.kinds(kind), kind
    assert clock.monitor.states[0].distraction == "attentive"
    assert clock.monitor.states[0].drowsiness != "asleep"


def test_a_driver_who_returns_under_the_same_id_keeps_the_neutral_pose() -> None:
    """Neutral -10 deg; 3 s away; back at -10 (no glance); then +20 for 1 s: a glance of the
    old neutral (were the neutral learned from the return, +20 would be no glance)."""
    clock = Clock(DriverMonitor())
    clock.run(4.0, lambda t: [face(0, yaw=-10.0)])
    clock.run(3.0)
    back = clock.run(2.0, lambda t: [face(0, yaw=-10.0)])
    assert not clock.kinds("glance_away", back)
    assert clock.monitor.states[0].yaw_offset == pytest.approx(0.0, abs=1.0)
    clock.run(1.0, lambda t: [face(0, yaw=20.0)])
    clock.run(1.0, lambda t: [face(0, yaw=-10.0)])
    (glance,) = clock.kinds("glance_away")
    assert glance.duration == pytest.approx(1.0, abs=2 / FPS)


def test_a_new_id_after_a_gap_warms_up_afresh() -> None:
    clock = Clock(DriverMonitor())
    clock.run(4.0, lambda t: [face(0, yaw=-10.0)])
    clock.run(3.0)
    clock.run(1.0, lambda t: [face(1, yaw=20.0)])
    assert clock.monitor.states[1].distraction == "unknown"  # warm-up: 2 s of face data
    clock.run(2.0, lambda t: [face(1, yaw=20.0)])
    assert clock.monitor.states[1].distraction == "attentive"
    assert not clock.kinds("glance_away")


def _swap(t: float) -> list[FaceResult]:
    """Person 0 drives (left seat, looking ahead at -10 deg), person 1 sits right looking at
    the driver (+30 deg); at 6 s they have swapped seats and each looks ahead from the new one."""
    if t < 6.0:
        return [face(0, yaw=-10.0, seat=LEFT), face(1, yaw=30.0, seat=RIGHT, scale=0.9)]
    return [face(1, yaw=-10.0, seat=LEFT, scale=0.9), face(0, yaw=30.0, seat=RIGHT)]


@pytest.mark.parametrize(("margin", "glances"), [(0.2, 0), (1.0, 2)])
def test_swapped_seats_relearn_the_neutral_pose(margin: float, glances: int) -> None:
    """All faces monitored; ids follow people. With the seat rule, no glance after a swap;
    with it disabled (a margin no face can cross) both people 'glance' for 6 s."""
    clock = Clock(DriverMonitor(MonitorConfig(seat_margin=margin)))
    clock.run(12.0, _swap)
    assert len(clock.kinds("long_glance_away")) == glances
    if glances == 0:
        assert {clock.monitor.states[i].distraction for i in (0, 1)} == {"attentive"}


def test_a_lone_driver_leaning_keeps_the_seat_and_neutral_pose() -> None:
    """Box centre wandering -0.29..+0.14 of the width (as on openface_default.wmv)."""
    clock = Clock(DriverMonitor())
    clock.run(12.0, lambda t: [face(0, seat=-170.0 + 250.0 * min(t / 8.0, 1.0))])
    assert [e.detail for e in clock.kinds("distraction")] == ["attentive"]


def test_driver_seat_follows_the_seat_not_the_person() -> None:
    clock = Clock(DriverMonitor(MonitorConfig(driver_seat="left")))
    before = clock.run(6.0, _swap)
    assert {e.face_id for e in before} == {0}
    after = clock.run(6.0, _swap)
    (lost,) = clock.kinds("face_lost", after)
    assert lost.face_id == 0  # the old driver is no longer monitored
    assert {e.face_id for e in after} - {0} == {1}
    assert clock.monitor.states[1].distraction == "attentive"
    assert not clock.kinds("glance_away") and not clock.kinds("long_glance_away")


def test_driver_seat_takes_the_largest_face_in_the_seat() -> None:
    clock = Clock(DriverMonitor(MonitorConfig(driver_seat="right")))
    clock.run(1.0, lambda t: [face(5, seat=RIGHT, scale=0.6), face(6, seat=RIGHT - 60, scale=1.1), face(7)])
    assert set(clock.monitor.states) == {6}


def test_driver_seat_is_validated() -> None:
    with pytest.raises(InputError, match="driver_seat"):
        MonitorConfig(driver_seat="middle")
