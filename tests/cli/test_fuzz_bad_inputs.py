"""Issue 16, fuzz-style: bad files, arguments and streams given to the CLI's commands.

Each case runs ``python -m aunce_rt.cli`` in a subprocess (as a user would, on an
80-column pipe) and expects exit code 1 (2 for usage errors), exactly one line on
stderr that names the input and says what to do, and no traceback anywhere. The
tiny ONNX model of tests/tiny_onnx.py stands in for the bundled model.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tiny_onnx import write_tiny_model

TINY = ("--model", "tiny.onnx", "--providers", "cpu", "--threads", "1")


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REFUSED_URL = f"rtsp://127.0.0.1:{_closed_port()}/live"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A folder of bad (and a few good) inputs; the commands run inside it with relative names."""
    d = tmp_path_factory.mktemp("fuzz")
    write_tiny_model(d / "tiny.onnx")
    shutil.copy(shared_data / "images" / "single_face.jpg", d / "good.jpg")
    video = (shared_data / "video" / "single_face.mp4").read_bytes()
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("this is a note, not a video\n")
    (d / "trunc.mp4").write_bytes(video[:2000])  # the header's start: nothing decodes
    jpg = (d / "good.jpg").read_bytes()
    (d / "corrupt.jpg").write_bytes(jpg[:600])  # a JPEG cut inside its header
    (d / "junk").mkdir()
    (d / "junk" / "notes.txt").write_text("x\n")
    (d / "junk" / "blob.bin").write_bytes(os.urandom(256))
    (d / "notonnx.onnx").write_bytes(b"this is not a protobuf \x00\x01" * 8)
    (d / "notckpt.pt").write_bytes(b"\x00not a torch checkpoint")
    (d / "wrong.csv").write_text("a,b,c\n1,2,3\n")
    (d / "empty.csv").write_text("")
    (d / "good.csv").write_text(
        "frame,face_id,timestamp,success,AU01_p,AU12_p\n1,0,0.0,1,0.2,0.7\n2,0,0.04,1,0.3,0.8\n"
    )
    return d


def _run(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    full_env.update({"COLUMNS": "80", **(env or {})})  # a narrow terminal must not wrap the line
    return subprocess.run(
        [sys.executable, "-m", "aunce_rt.cli", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
    )


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int  # 1: our error; 2: a usage error (Typer's validation)
    says: tuple[str, ...]  # fragments of the one stderr line: the input, and the fix


CASES: dict[str, Case] = {
    # detect: bad files
    "missing file": Case(
        ("detect", "missing.mp4", "-o", "a.csv", *TINY), 1, ("missing.mp4", "pass an existing")
    ),
    "empty file": Case(
        ("detect", "empty.mp4", "-o", "a.csv", *TINY), 1, ("empty.mp4", "0-byte", "pass a valid")
    ),
    "text named .mp4": Case(
        ("detect", "text.mp4", "-o", "a.csv", *TINY), 1, ("text.mp4", "text file", "pass a")
    ),
    "truncated video": Case(("detect", "trunc.mp4", "-o", "a.csv", *TINY), 1, ("trunc.mp4", "ffmpeg -i")),
    "corrupt jpg": Case(("detect", "corrupt.jpg", "-o", "a.csv", *TINY), 1, ("corrupt.jpg", "re-save it")),
    "folder of junk": Case(("detect", "junk", "-o", "a.csv", *TINY), 1, ("junk", "holds no images")),
    "glob matching nothing": Case(
        ("detect", "nomatch*.jpg", "-o", "a.csv", *TINY), 1, ("nomatch*.jpg", "matches no")
    ),
    "refused stream": Case(
        ("detect", REFUSED_URL, "-o", "a.csv", *TINY),
        1,
        (REFUSED_URL, "connection refused", "check the address"),
    ),
    # detect: bad arguments
    "max-faces 0": Case(
        ("detect", "good.jpg", "-o", "a.csv", "--max-faces", "0", *TINY), 2, ("--max-faces", "--help")
    ),
    "negative threshold": Case(
        ("detect", "good.jpg", "-o", "a.csv", "--threshold", "-0.5", *TINY), 2, ("--threshold",)
    ),
    "smooth above 1": Case(("detect", "good.jpg", "-o", "a.csv", "--smooth", "2", *TINY), 2, ("--smooth",)),
    "stride 0": Case(("detect", "good.jpg", "-o", "a.csv", "--stride", "0", *TINY), 2, ("--stride",)),
    "unknown provider": Case(
        ("detect", "good.jpg", "-o", "a.csv", "--model", "tiny.onnx", "--providers", "metal"),
        2,
        ("metal", "cpu"),
    ),
    "model not ONNX": Case(
        ("detect", "good.jpg", "-o", "a.csv", "--model", "notonnx.onnx"),
        1,
        ("notonnx.onnx", "aunce-rt export"),
    ),
    "model is a folder": Case(
        ("detect", "good.jpg", "-o", "a.csv", "--model", "junk"), 1, ("junk", "folder")
    ),
    "unknown landmarks": Case(
        ("detect", "good.jpg", "-o", "a.csv", "--landmarks", "dlib", *TINY), 1, ("dlib", "facemesh")
    ),
    "missing .task": Case(
        ("detect", "good.jpg", "-o", "a.csv", "--landmarks", "absent.task", *TINY), 1, ("absent.task",)
    ),
    "output in a missing folder": Case(
        ("detect", "good.jpg", "-o", "nofolder/a.csv", *TINY), 1, ("nofolder", "mkdir -p")
    ),
    "output equal to the input": Case(
        ("detect", "good.jpg", "-o", "good.jpg", *TINY), 1, ("good.jpg", "is an input")
    ),
    "output .json": Case(("detect", "good.jpg", "-o", "a.json", *TINY), 1, ("a.json", ".jsonl")),
    "save-video .gif": Case(
        ("detect", "good.jpg", "-o", "a.csv", "--save-video", "v.gif", *TINY), 1, ("v.gif", ".mp4")
    ),
    "unknown command": Case(("detec", "good.jpg"), 2, ("detec", "detect")),
    # plot
    "plot bad AU list": Case(("plot", "good.csv", "-o", "p.png", "--aus", "1,zz"), 1, ("zz", "AU12")),
    "plot AU not in the file": Case(
        ("plot", "good.csv", "-o", "p.png", "--aus", "4"), 1, ("AU04", "good.csv", "--aus")
    ),
    "plot CSV with a wrong header": Case(("plot", "wrong.csv", "-o", "p.png"), 1, ("wrong", "no AU columns")),
    "plot empty CSV": Case(("plot", "empty.csv", "-o", "p.png"), 1, ("empty.csv", "empty")),
    "plot missing CSV": Case(("plot", "missing.csv", "-o", "p.png"), 2, ("missing.csv", "does not exist")),
    "plot to .txt": Case(("plot", "good.csv", "-o", "p.txt"), 1, ("p.txt", ".png")),
    "plot over its input": Case(("plot", "good.csv", "-o", "good.csv"), 1, ("good.csv", "is an input")),
    # info
    "info not ONNX": Case(("info", "notonnx.onnx"), 1, ("notonnx.onnx", "aunce-rt export")),
    "info missing model": Case(("info", "missing.onnx"), 1, ("missing.onnx", "not found")),
    "info unknown provider": Case(("info", "tiny.onnx", "--providers", "metal"), 2, ("metal",)),
    # export (the checks that run before torch is imported)
    "export missing checkpoint": Case(("export", "missing.pt"), 2, ("missing.pt", "does not exist")),
    "export a folder": Case(("export", "junk"), 2, ("junk", "directory")),
    "export fp16 and int8": Case(
        ("export", "notckpt.pt", "--fp16", "--int8"), 1, ("--fp16", "--int8", "one variant")
    ),
    "export calib without int8": Case(
        ("export", "notckpt.pt", "--calib", "junk"), 1, ("--calib", "add --int8")
    ),
    # webcam
    "webcam negative camera": Case(("webcam", "--camera", "-1"), 2, ("--camera",)),
    "webcam without a display": Case(("webcam", "--model", "tiny.onnx"), 1, ("display", "aunce-rt detect 0")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_no_traceback(workdir: Path, name: str) -> None:
    case = CASES[name]
    before = {p.name for p in workdir.iterdir()}
    out = _run(workdir, *case.args)
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert out.returncode == case.code, (out.returncode, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in case.says:
        assert fragment in lines[0], (fragment, lines[0])
    assert {p.name for p in workdir.iterdir()} == before  # nothing written, nothing destroyed


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_bad_inputs_among_good_ones_keep_the_good_rows(workdir: Path, tmp_path: Path) -> None:
    alone = _run(workdir, "detect", "good.jpg", "-o", str(tmp_path / "alone.csv"), *TINY)
    assert alone.returncode == 0, alone.stderr
    expected = _rows(tmp_path / "alone.csv")
    sources = ["good.jpg", "corrupt.jpg", REFUSED_URL, "text.mp4", "good.jpg"]
    out = _run(workdir, "detect", *sources, "-o", str(tmp_path / "multi.csv"), *TINY)
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert out.returncode == 1, out.stderr
    failed = [line for line in out.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 3, out.stderr  # one line per bad input, each naming it
    assert "corrupt.jpg" in failed[0] and REFUSED_URL in failed[1] and "text.mp4" in failed[2]
    assert "connection refused" in failed[1]
    assert out.stderr.strip().splitlines()[-1] == "2 succeeded, 3 failed"
    for index in (0, 4):  # the rows of the good inputs, before and after the bad ones, are whole
        assert _rows(tmp_path / f"multi_{index:02d}_good.csv") == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "alone.csv",
        "multi_00_good.csv",
        "multi_04_good.csv",
    ]


def test_fail_fast_stops_at_the_bad_stream_and_keeps_the_rows_before_it(
    workdir: Path, tmp_path: Path
) -> None:
    out = _run(
        workdir,
        "detect",
        "good.jpg",
        REFUSED_URL,
        "good.jpg",
        "-o",
        str(tmp_path / "m.csv"),
        "--fail-fast",
        *TINY,
    )
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert out.returncode == 1, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and REFUSED_URL in errors[0] and "connection refused" in errors[0], out.stderr
    assert len(_rows(tmp_path / "m_00_good.csv")) == 1  # the one face of the first image
    assert not (tmp_path / "m_02_good.csv").exists()  # never started
