"""face_geometry: pose, gaze, eye and mouth opening on synthetic faces of known pose."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aunce_rt.errors import InputError
from aunce_rt.face_geometry import DEPTH_GAIN, euler_to_rotation, face_geometry, rotation_to_euler
from tests.aunce_rt.synthetic_face import H, W, face_model, face_result, project

POSES = [(0, 0, 0), (0, 25, 0), (0, -30, 0), (15, 0, 0), (-20, 10, 5), (10, -20, -15), (0, 0, 25)]


@pytest.mark.parametrize("pose", POSES)
def test_euler_round_trip(pose: tuple[float, float, float]) -> None:
    assert rotation_to_euler(euler_to_rotation(*pose)) == pytest.approx(pose, abs=1e-9)


@pytest.mark.parametrize("t_mm", [(0, 0, 500), (150, -80, 600)])
@pytest.mark.parametrize("pose", POSES)
def test_pose_recovered(pose: tuple[float, float, float], t_mm: tuple[float, float, float]) -> None:
    pts, z = project(face_model(), *pose, t_mm=t_mm)
    g = face_geometry(pts, z, W, H)
    assert (g.pitch, g.yaw, g.roll) == pytest.approx(pose, abs=0.5)
    assert g.translation == pytest.approx(np.array(t_mm, float), rel=0.02, abs=2.0)
    # looking straight ahead: gaze is the head's forward axis, -R[:, 2]
    forward = -euler_to_rotation(*pose)[:, 2]
    for gaze in (g.gaze_0, g.gaze_1):
        assert float(gaze @ forward) > math.cos(math.radians(2))
    assert g.gaze_angle_x == pytest.approx(math.atan2(forward[0], -forward[2]), abs=0.03)
    assert g.gaze_angle_y == pytest.approx(math.atan2(forward[1], -forward[2]), abs=0.03)


def test_yaw_sign_and_openface_columns() -> None:
    """Positive yaw turns the face towards the image's left (OpenFace's sign, checked on its CSVs)."""
    pts, z = project(face_model(), 0, 20, 0)
    cols = face_geometry(pts, z, W, H).openface_columns()
    assert cols["pose_Ry"] == pytest.approx(math.radians(20), abs=0.01)
    assert cols["gaze_angle_x"] < -0.3  # looking where the face points: the image's left
    assert list(cols)[:8] == [
        *(f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"),
        "gaze_angle_x",
        "gaze_angle_y",
    ]


def test_eye_aspect_ratio_open_and_closed() -> None:
    open_, shut = (face_geometry(*project(face_model(openness=o), 0, 0, 0), W, H) for o in (1.0, 0.0))
    assert open_.ear_right == pytest.approx(1 / 3, abs=0.01)
    assert open_.ear_left == pytest.approx(1 / 3, abs=0.01)
    assert shut.ear < 0.02
    half = face_geometry(*project(face_model(openness=0.5), 0, 0, 0), W, H)
    assert half.ear == pytest.approx(open_.ear / 2, abs=0.01)


def test_mouth_opening() -> None:
    for gap in (0.0, 0.3, 0.8):
        g = face_geometry(*project(face_model(mouth=gap), 0, 0, 0), W, H)
        assert g.mouth_opening == pytest.approx(gap, abs=0.01)


def test_face_result_geometry_uses_depth() -> None:
    pts, z = project(face_model(), 0, 25, 0)
    face = face_result(pts, z)
    assert face.geometry(W, H).yaw == pytest.approx(25, abs=0.5)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(InputError, match="478, 2"):
        face_geometry(np.zeros((468, 2)), None, W, H)
    with pytest.raises(InputError, match="z of shape"):
        face_geometry(np.zeros((478, 2)), np.zeros(468), W, H)


def test_depth_gain_undoes_mediapipes_flat_depth() -> None:
    pts, z = project(face_model(), 0, 30, 0)  # depth flattened as MediaPipe's
    assert face_geometry(pts, z, W, H).yaw == pytest.approx(30, abs=0.5)
    assert face_geometry(pts, z * DEPTH_GAIN, W, H).yaw > 33  # metric depth would over-turn
