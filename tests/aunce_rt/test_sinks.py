"""Tests of aunce_rt.sinks: OpenFace-style CSV, JSON Lines, video, and reading AU CSVs back."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from aunce_rt.errors import InputError, OutputError
from aunce_rt.results import FaceResult, FrameResult
from aunce_rt.sinks import CSVSink, JSONLSink, VideoSink, open_sink, read_au_csv

CODES = (1, 2, 12)


def _face(face_id: int, probs: list[float], codes: tuple[int, ...] = CODES, x: float = 10.0) -> FaceResult:
    p = np.array(probs, np.float32)
    return FaceResult(
        face_id=face_id,
        box=np.array([x, 20.25, x + 100, 140.0], np.float32),
        landmarks=np.zeros((478, 2), np.float32),
        confidence=0.91234,
        au_codes=codes,
        probabilities=p,
        occurrences=p >= 0.5,
    )


def _frame(index: int, faces: tuple[FaceResult, ...]) -> FrameResult:
    return FrameResult(
        index=index, timestamp=index / 30, faces=faces, width=640, height=480, source="clip.mp4"
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_header_is_openface_style(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with CSVSink(path, au_codes=CODES) as sink:
        assert sink.columns[:9] == (
            "frame", "face_id", "timestamp", "confidence", "success", "x_min", "y_min", "x_max", "y_max",
        )  # fmt: skip
    header = path.read_text().splitlines()[0]
    assert header == (
        "frame,face_id,timestamp,confidence,success,x_min,y_min,x_max,y_max,"
        "AU01_p,AU02_p,AU12_p,AU01_c,AU02_c,AU12_c"
    )


def test_csv_rows_per_face_and_no_face(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with CSVSink(path, au_codes=CODES) as sink:
        sink.write(_frame(0, (_face(0, [0.1, 0.55556, 0.9]), _face(1, [0.6, 0.2, 0.3], x=300))))
        sink.write(_frame(1, ()))
        assert sink.rows == 3
    rows = _rows(path)
    assert len(rows) == 3
    first, second, empty = rows
    assert first["frame"] == "1" and first["face_id"] == "0" and first["success"] == "1"
    assert first["timestamp"] == "0.000" and first["confidence"] == "0.912"
    assert (first["x_min"], first["y_min"], first["x_max"], first["y_max"]) == (
        "10.0",
        "20.2",
        "110.0",
        "140.0",
    )
    assert (first["AU01_p"], first["AU02_p"], first["AU12_p"]) == ("0.1000", "0.5556", "0.9000")
    assert (first["AU01_c"], first["AU02_c"], first["AU12_c"]) == ("0", "1", "1")
    assert second["face_id"] == "1" and second["AU01_c"] == "1" and second["x_min"] == "300.0"
    assert empty["frame"] == "2" and empty["success"] == "0" and empty["confidence"] == "0"
    assert empty["face_id"] == "0" and empty["timestamp"] == "0.033"
    assert empty["x_min"] == "0" and empty["AU01_p"] == "0" and empty["AU12_c"] == "0"  # OpenFace: zeros


def test_csv_rejects_faces_missing_a_column_au(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with CSVSink(path, au_codes=(12, 1, 4)) as sink:
        with pytest.raises(InputError, match=r"missing \[4\]"):
            sink.write(_frame(0, (_face(0, [0.1, 0.2, 0.3]),)))
        assert sink.rows == 0
    assert _rows(path) == []


def test_csv_ordering_by_code(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with CSVSink(path, au_codes=("AU12", "AU01")) as sink:
        sink.write(_frame(0, (_face(0, [0.1, 0.2, 0.9]),)))
    (row,) = _rows(path)
    assert list(row)[9:] == ["AU12_p", "AU01_p", "AU12_c", "AU01_c"]
    assert (row["AU12_p"], row["AU01_p"], row["AU12_c"], row["AU01_c"]) == ("0.9000", "0.1000", "1", "0")


def test_csv_rows_are_on_disk_after_each_write(tmp_path: Path) -> None:
    path = tmp_path / "live.csv"
    sink = CSVSink(path, au_codes=CODES)
    for i in range(3):
        sink.write(_frame(i, (_face(0, [0.1, 0.2, 0.3]),)))
        assert len(_rows(path)) == i + 1  # read by another handle while still open
    sink.close()


def test_csv_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "killed.csv"
    code = (
        "import os, signal, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from tests.aunce_rt.test_sinks import _face, _frame\n"
        "from aunce_rt.sinks import CSVSink\n"
        "sink = CSVSink(sys.argv[1], au_codes=(1, 2, 12))\n"
        "for i in range(5):\n"
        "    sink.write(_frame(i, (_face(0, [0.1, 0.2, 0.3]),)))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(root)], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    rows = _rows(path)
    assert [r["frame"] for r in rows] == ["1", "2", "3", "4", "5"]


def test_missing_folder_and_folder_path_raise_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"output folder .*nope.* does not exist; create it"):
        CSVSink(tmp_path / "nope" / "out.csv", au_codes=CODES)
    with pytest.raises(OutputError, match="is a folder"):
        JSONLSink(tmp_path)
    with pytest.raises(OutputError, match="does not exist"):
        VideoSink(tmp_path / "nope" / "out.mp4", fps=30)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_raises_output_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            CSVSink(folder / "out.csv", au_codes=CODES)
    finally:
        folder.chmod(0o700)


def test_jsonl_one_record_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    results = [_frame(0, (_face(0, [0.1, 0.7, 0.3]),)), _frame(1, ())]
    with JSONLSink(path) as sink:
        for r in results:
            sink.write(r)
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [r.to_dict() for r in results]


def test_open_sink_infers_format(tmp_path: Path) -> None:
    with open_sink(tmp_path / "a.csv", None, CODES) as sink:
        assert isinstance(sink, CSVSink)
    with open_sink(tmp_path / "a.jsonl") as sink:
        assert isinstance(sink, JSONLSink)
    with open_sink(tmp_path / "a.txt", "jsonl") as sink:
        assert isinstance(sink, JSONLSink)
    with pytest.raises(InputError, match="name it .csv or .jsonl"):
        open_sink(tmp_path / "a.txt")
    with pytest.raises(InputError, match="AU codes"):
        open_sink(tmp_path / "b.csv")
    with pytest.raises(InputError, match="unknown output format 'xml'"):
        open_sink(tmp_path / "b.csv", "xml", CODES)


def test_video_sink_opens_lazily_and_resizes(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with VideoSink(path, fps=10) as sink:
        assert not path.exists()
        for i in range(5):
            sink.write(np.full((120, 160, 3), i * 40, np.uint8))
        sink.write(np.zeros((60, 80, 3), np.uint8))  # resized to the first frame's size
        assert sink.frames == 6 and sink.size == (160, 120)
        with pytest.raises(InputError, match="uint8 BGR"):
            sink.write(np.zeros((120, 160), np.uint8))
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (120, 160, 3)
        n += 1
    cap.release()
    assert n == 6


def test_video_sink_bad_writer_raises_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="unknown suffix '.unknownext'"):  # checked before any frame
        VideoSink(tmp_path / "out.unknownext", fps=10, size=(160, 120))


def test_read_au_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with CSVSink(path, au_codes=CODES) as sink:
        sink.write(_frame(0, (_face(0, [0.1, 0.7, 0.3]),)))
        sink.write(_frame(1, ()))
    cols = read_au_csv(path)
    np.testing.assert_array_equal(cols["frame"], [1, 2])
    np.testing.assert_allclose(cols["AU02_p"][:1], [0.7])
    assert cols["AU02_p"][1] == 0 and cols["x_min"][1] == 0  # a no-face row is zeros, as OpenFace writes
    np.testing.assert_array_equal(cols["success"], [1, 0])


@pytest.mark.shared
def test_read_au_csv_openface2(shared_data: Path) -> None:
    cols = read_au_csv(shared_data / "reference" / "openface2" / "openface_default.openface2.csv")
    assert cols["frame"].shape == (288,)
    np.testing.assert_array_equal(cols["frame"], np.arange(1, 289))
    assert cols["AU12_r"].dtype == np.float64 and np.all(cols["AU12_r"] >= 0)
    assert set(np.unique(cols["AU12_c"])) <= {0.0, 1.0}


@pytest.mark.shared
def test_read_au_csv_openface_header_with_spaces(shared_data: Path) -> None:
    cols = read_au_csv(shared_data / "reference" / "pyfeat" / "OpenFace_Test_format_example.csv")
    assert len(cols) == 431
    assert "AU01_r" in cols and " AU01_r" not in cols and "timestamp" in cols
    assert cols["AU01_r"].shape == (100,)
    assert np.all(np.isfinite(cols["AU01_r"]))


@pytest.mark.shared
def test_read_au_csv_keeps_text_columns(shared_data: Path) -> None:
    cols = read_au_csv(shared_data / "reference" / "pyfeat" / "single_face.jpg.pyfeat_detectorv2_aus.csv")
    assert cols["input"].tolist() == ["single_face.jpg"]
    assert 0.0 <= float(cols["AU12"][0]) <= 1.0


def test_read_au_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_au_csv(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_au_csv(tmp_path / "empty.csv")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(InputError, match="row 3 has 1 fields"):
        read_au_csv(tmp_path / "ragged.csv")
