"""CSVSink(pose=True): OpenFace's gaze and pose columns, names, order, units, failed rows."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from aunce_rt.results import FaceResult, FrameResult
from aunce_rt.sinks import CSV_POSE_COLUMNS, CSVSink, open_sink, read_au_csv
from tests.aunce_rt.synthetic_face import H, W, face_model, project


def _frame(index: int, yaw: float | None) -> FrameResult:
    faces: tuple[FaceResult, ...] = ()
    if yaw is not None:
        pts, z = project(face_model(), 10, yaw, -5, t_mm=(40, -20, 550))
        box = np.array([*pts.min(0), *pts.max(0)], np.float32)
        faces = (
            FaceResult(
                0, box, pts, 0.9, (1, 12), np.array([0.1, 0.7], np.float32), np.array([False, True]), depth=z
            ),
        )
    return FrameResult(index=index, timestamp=index / 30, faces=faces, width=W, height=H)


def test_pose_columns_follow_openface_order(shared_data: Path, tmp_path: Path) -> None:
    ref = next(csv.reader(open(shared_data / "reference/openface2/openface_default.openface2.csv")))
    ref = [c.strip() for c in ref]
    with CSVSink(tmp_path / "a.csv", (1, 12), pose=True) as sink:
        ours = list(sink.columns)
    assert ours[:5] == ref[:5]  # frame, face_id, timestamp, confidence, success
    shared = [c for c in ours if c in ref]
    assert shared == [c for c in ref if c in ours]  # same relative order as OpenFace
    assert [c for c in shared if c.startswith("pose_")] == ref[5:11]  # pose_T*, pose_R* right after success
    # OpenFace's full output puts gaze between success and pose
    assert ours[5:19] == list(CSV_POSE_COLUMNS)


def test_pose_values_units_and_failed_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    with open_sink(path, au_codes=(1, 12), pose=True) as sink:
        sink.write(_frame(0, 20.0))
        sink.write(_frame(1, None))
    cols = read_au_csv(path)
    assert cols["pose_Rx"][0] == pytest.approx(math.radians(10), abs=0.01)
    assert cols["pose_Ry"][0] == pytest.approx(math.radians(20), abs=0.01)
    assert cols["pose_Rz"][0] == pytest.approx(math.radians(-5), abs=0.01)
    assert cols["pose_Tz"][0] == pytest.approx(550, rel=0.02)
    assert cols["pose_Tx"][0] == pytest.approx(40, abs=3)
    g0 = np.array([cols[f"gaze_0_{a}"][0] for a in "xyz"])
    assert np.linalg.norm(g0) == pytest.approx(1.0, abs=1e-4)
    assert cols["AU12_p"][0] == pytest.approx(0.7)
    assert cols["success"][1] == 0
    assert all(cols[c][1] == 0 for c in CSV_POSE_COLUMNS)


def test_default_csv_has_no_pose_columns(tmp_path: Path) -> None:
    with CSVSink(tmp_path / "a.csv", (1, 12)) as sink:
        assert not set(CSV_POSE_COLUMNS) & set(sink.columns)
