"""`aunce-rt monitor` on a short real video: event log, pose CSV, summary; bad outputs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from aunce_rt.cli.main import app
from aunce_rt.sinks import CSV_POSE_COLUMNS, read_au_csv
from tests.cli.helpers import runner
from tests.tiny_onnx import write_tiny_model


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


def run_monitor(model: Path, *args: str):  # -> click.testing.Result
    return runner.invoke(
        app, ["monitor", *args, "--model", str(model), "--providers", "cpu", "--threads", "1"]
    )


def test_monitor_real_video(shared_data: Path, model: Path, tmp_path: Path) -> None:
    video = shared_data / "video" / "openface_changeLighting.wmv"
    events, table = tmp_path / "events.jsonl", tmp_path / "aus.csv"
    annotated = tmp_path / "annotated.mp4"
    result = run_monitor(
        model, str(video), "--out", str(events), "--csv", str(table), "--save-video", str(annotated)
    )
    assert result.exit_code == 0, result.output
    assert "drowsiness" in result.output and "events:" in result.output
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert records, "a 6 s clip of a face yields at least the distraction state once the neutral pose is set"
    assert {r["kind"] for r in records} <= {
        "blink",
        "eye_closure",
        "long_eye_closure",
        "yawn",
        "glance_away",
        "long_glance_away",
        "drowsiness",
        "distraction",
        "face_lost",
        "face_found",
    }
    assert all(r["face_id"] == 0 for r in records)
    cols = read_au_csv(table)
    assert len(cols["frame"]) == 88
    assert all(c in cols for c in CSV_POSE_COLUMNS)
    ok = cols["success"] == 1
    assert ok.mean() > 0.9
    assert 250 < float(cols["pose_Tz"][ok].mean()) < 700  # a face about half a metre from the camera
    capture = cv2.VideoCapture(str(annotated))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 88
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(15.0, abs=0.01)  # the source's rate
    ok_read, first = capture.read()
    capture.release()
    source = cv2.VideoCapture(str(video))
    _, plain = source.read()
    source.release()
    assert ok_read and first.shape == plain.shape
    drawn = (abs(first.astype(int) - plain.astype(int)).max(axis=2) > 80).sum()
    assert drawn > 200  # pose axes, gaze rays, box and state text


def test_monitor_refuses_a_non_jsonl_event_log(shared_data: Path, model: Path, tmp_path: Path) -> None:
    video = shared_data / "video" / "openface_changeLighting.wmv"
    result = run_monitor(model, str(video), "--out", str(tmp_path / "events.csv"))
    assert result.exit_code != 0
    assert "jsonl" in result.output


def _face_on_the_right(video: Path, out: Path, frames: int = 40) -> Path:
    """The first ``frames`` of ``video`` with 480 black columns added on the left (15 fps)."""
    capture = cv2.VideoCapture(str(video))
    writer = None
    for _ in range(frames):
        ok, image = capture.read()
        if not ok:
            break
        image = cv2.copyMakeBorder(image, 0, 0, 480, 0, cv2.BORDER_CONSTANT)
        if writer is None:
            h, w = image.shape[:2]
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (w, h))
        writer.write(image)
    capture.release()
    assert writer is not None
    writer.release()
    return out


def test_monitor_driver_seat_and_stride(shared_data: Path, model: Path, tmp_path: Path) -> None:
    """The face sits in the right half: --driver-seat left sees nobody; right sees it."""
    video = _face_on_the_right(shared_data / "video" / "openface_changeLighting.wmv", tmp_path / "r.mp4")
    for seat, expect_face in (("left", False), ("right", True)):
        events = tmp_path / f"{seat}.jsonl"
        annotated = tmp_path / f"{seat}.mp4"
        args = ["--out", str(events), "--driver-seat", seat, "--max-faces", "2", "--stride", "2"]
        result = run_monitor(model, str(video), *args, "--save-video", str(annotated))
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in events.read_text().splitlines()]
        assert bool(records) == expect_face, (seat, records[:3])
        capture = cv2.VideoCapture(str(annotated))
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(7.5, abs=0.01)  # 15 fps / stride 2
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
        capture.release()
    result = run_monitor(model, str(video), "--driver-seat", "middle")
    assert result.exit_code != 0
