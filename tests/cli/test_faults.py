"""Issue 16, the runtime's fault paths: nothing lost, nothing destroyed, no traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aunce_rt.cli.main import app
from tests.cli.helpers import assert_one_line_error, read_rows, run_detect
from tests.tiny_onnx import write_tiny_model

runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


# ---------------------------------------------------------------- item 1: outputs never overwrite inputs
def test_output_that_is_an_input_is_refused_before_any_work(model, shared_data, tmp_path, monkeypatch):
    victim = tmp_path / "victim.wmv"
    shutil.copy(shared_data / "video" / "openface_changeLighting.wmv", victim)
    original = victim.read_bytes()
    (tmp_path / "link.wmv").symlink_to(victim)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    cases = [
        ["--out", str(tmp_path / "aus.csv"), "--save-video", str(victim)],
        ["--out", str(victim), "--format", "csv"],
        ["--out", "../victim.wmv", "--format", "jsonl"],  # relative path
        ["--out", str(tmp_path / "aus.csv"), "--save-video", str(tmp_path / "link.wmv")],  # symlink
    ]
    for args in cases:
        assert_one_line_error(run_detect(model, str(victim), *args), "victim.wmv", "is an input")
        assert victim.read_bytes() == original
    assert not (tmp_path / "aus.csv").exists()


def test_output_that_is_an_image_of_an_input_folder_is_refused(model, shared_data, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for name in ("001.jpg", "002.jpg"):
        shutil.copy(shared_data / "image_sequence" / name, folder / name)
    original = (folder / "002.jpg").read_bytes()
    assert_one_line_error(
        run_detect(model, str(folder), "--out", str(folder / "002.jpg"), "--format", "csv"), "002.jpg"
    )
    assert (folder / "002.jpg").read_bytes() == original


def test_out_and_save_video_cannot_be_the_same_file(model, shared_data, tmp_path):
    image = str(shared_data / "images" / "single_face.jpg")
    same = str(tmp_path / "x.avi")
    assert_one_line_error(
        run_detect(model, image, "--out", same, "--format", "csv", "--save-video", same), "x.avi"
    )


def test_save_video_suffix_is_checked_before_processing(model, shared_data, tmp_path):
    out = tmp_path / "aus.csv"
    video = str(shared_data / "video" / "single_face.mp4")
    assert_one_line_error(
        run_detect(model, video, "--out", str(out), "--save-video", str(tmp_path / "a.xyz")), "a.xyz"
    )
    assert not out.exists()  # no partial CSV left behind
    assert_one_line_error(
        run_detect(model, video, "--out", str(out), "--save-video", str(tmp_path / "missing" / "a.mp4")),
        "does not exist",
    )
    assert not out.exists()
    assert_one_line_error(run_detect(model, video, "--out", str(tmp_path / "aus.txt")), "aus.txt")


# ---------------------------------------------------------------- item 3: a bad source does not stop the rest
def _sequence(shared_data: Path, folder: Path, corrupt: int | None = None) -> Path:
    folder.mkdir()
    for path in sorted((shared_data / "image_sequence").glob("*.jpg")):
        shutil.copy(path, folder / path.name)
    if corrupt is not None:
        (folder / f"{corrupt:03d}.jpg").write_bytes(b"\xff\xd8garbage" * 30)
    return folder


def test_corrupt_image_in_a_folder_is_skipped_and_reported(model, shared_data, tmp_path):
    folder = _sequence(shared_data, tmp_path / "seq", corrupt=15)
    out = tmp_path / "aus.csv"
    result = run_detect(model, str(folder), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    frames = sorted({int(r["frame"]) for r in read_rows(out)})
    assert frames == [n for n in range(1, 31) if n != 15]  # 13-14 kept, 16-30 run
    text = " ".join(result.output.split())
    assert "015.jpg" in text and "failed" in text


def test_corrupt_image_with_fail_fast_keeps_every_processed_row(model, shared_data, tmp_path):
    folder = _sequence(shared_data, tmp_path / "seq", corrupt=15)
    out = tmp_path / "aus.csv"
    result = run_detect(model, str(folder), "--out", str(out), "--fail-fast")
    assert_one_line_error(result, "015.jpg")
    frames = sorted({int(r["frame"]) for r in read_rows(out)})
    assert frames[:14] == list(range(1, 15))  # frames processed before the failure are written
    assert 30 not in frames


def test_typo_in_the_second_of_three_sources(model, shared_data, tmp_path):
    images = shared_data / "images"
    sources = [str(images / "single_face.jpg"), str(tmp_path / "typo.jpg"), str(images / "multi_face.jpg")]
    out = tmp_path / "aus.csv"
    result = run_detect(model, *sources, "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert read_rows(tmp_path / "aus_00_single_face.csv") and read_rows(tmp_path / "aus_02_multi_face.csv")
    assert not (tmp_path / "aus_01_typo.csv").exists()
    text = " ".join(result.output.split())
    assert "typo.jpg" in text and "does not exist" in text
    assert "2 succeeded, 1 failed" in text

    for path in tmp_path.glob("aus_*.csv"):
        path.unlink()
    fast = run_detect(model, *sources, "--out", str(out), "--fail-fast")
    assert_one_line_error(fast, "typo.jpg")
    assert not list(tmp_path.glob("aus_*.csv"))  # validated before the first frame


# ---------------------------------------------------------------- item 8: garbage in is refused
def test_text_file_is_not_a_video(model, tmp_path):
    out = tmp_path / "aus.csv"
    notes = tmp_path / "notes.txt"
    notes.write_text("hello world, this is a note and not a video\n" * 200)
    renamed = tmp_path / "clip.avi"
    renamed.write_bytes(notes.read_bytes())
    for path in (notes, renamed):
        assert_one_line_error(run_detect(model, str(path), "--out", str(out)), path.name, "not a video")
        assert not out.exists()


@pytest.mark.parametrize("scale", [15.0, float("nan")])
def test_model_with_outputs_outside_0_1_is_refused_at_load(shared_data, tmp_path, scale):
    broken = write_tiny_model(tmp_path / "broken.onnx", output_scale=scale)
    out = tmp_path / "aus.csv"
    result = run_detect(broken, str(shared_data / "images" / "single_face.jpg"), "--out", str(out))
    assert_one_line_error(result, "broken.onnx", "probabilities in [0, 1]")
    assert not out.exists()


# ---------------------------------------------------------------- item 10 (subset): smaller fault paths
def test_json_suffix_is_refused_and_jsonl_is_json_lines(model, shared_data, tmp_path):
    import json

    image = str(shared_data / "images" / "single_face.jpg")
    assert_one_line_error(run_detect(model, image, "--out", str(tmp_path / "x.json")), "x.json", ".jsonl")
    assert not (tmp_path / "x.json").exists()
    result = run_detect(model, image, "--out", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["frame"] for line in (tmp_path / "x.jsonl").read_text().splitlines()] == [1]


def test_no_face_rows_write_zero_like_openface(model, shared_data, tmp_path):
    out = tmp_path / "aus.csv"
    result = run_detect(model, str(shared_data / "images" / "free-mountain-vector-01.jpg"), "--out", str(out))
    assert result.exit_code == 0, result.output
    (row,) = read_rows(out)
    assert row["success"] == "0"
    aus = {k: v for k, v in row.items() if k.startswith("AU")}
    assert aus and all(float(v) == 0 for v in aus.values()), aus
    assert all(v == "0" for k, v in aus.items() if k.endswith("_c"))  # integers, as OpenFace writes


def _plot(*args: str):
    return runner.invoke(app, ["plot", *args])


def test_plot_refuses_an_au_missing_from_the_file(model, shared_data, tmp_path):
    out = tmp_path / "aus.csv"
    assert (
        run_detect(model, str(shared_data / "images" / "single_face.jpg"), "--out", str(out)).exit_code == 0
    )
    assert_one_line_error(
        _plot(str(out), "--out", str(tmp_path / "p.png"), "--aus", "12,99"), "AU99", "aus.csv"
    )
    assert not (tmp_path / "p.png").exists()


def test_plot_reads_our_jsonl(model, shared_data, tmp_path):
    out = tmp_path / "aus.jsonl"
    video = str(shared_data / "video" / "single_face.mp4")
    assert run_detect(model, video, "--out", str(out), "--stride", "8").exit_code == 0
    result = _plot(str(out), "--out", str(tmp_path / "p.png"), "--aus", "1,12")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_plot_on_a_video_is_a_one_line_error(shared_data, tmp_path):
    video = shared_data / "video" / "single_face.mp4"
    assert_one_line_error(_plot(str(video), "--out", str(tmp_path / "p.png")), "single_face.mp4", ".csv")


def test_demo_output_folder_is_ignored_by_git():
    root = Path(__file__).resolve().parents[2]
    lines = (root / ".gitignore").read_text().splitlines()
    assert "aunce_demo/" in lines or "/aunce_demo/" in lines


# ---------------------------------------------------------------- item 2: a URL to a file is a file
@pytest.fixture
def http_video_dir(shared_data):
    """A loopback-only HTTP server over ../shared/data/video; yields its base URL."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(shared_data / "video"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_url_to_a_video_file_decodes_every_frame(model, shared_data, tmp_path, http_video_dir):
    local, remote = tmp_path / "local.csv", tmp_path / "remote.csv"
    name = "openface_changeLighting.wmv"
    assert run_detect(model, str(shared_data / "video" / name), "--out", str(local)).exit_code == 0
    result = run_detect(model, f"{http_video_dir}/{name}", "--out", str(remote))
    assert result.exit_code == 0, result.output
    frames = [int(r["frame"]) for r in read_rows(remote)]
    assert frames == [int(r["frame"]) for r in read_rows(local)] and len(frames) > 80  # nothing dropped
    assert "frames dropped" not in result.output


def test_live_handling_when_asked_reports_dropped_frames(model, tmp_path, http_video_dir):
    out = tmp_path / "live.csv"
    result = run_detect(model, f"{http_video_dir}/openface_changeLighting.wmv", "--out", str(out), "--live")
    assert result.exit_code == 0, result.output
    assert "frames dropped (live)" in " ".join(result.output.split())


def test_live_protocols_stay_live():
    from aunce_rt.sources import LIVE_SCHEMES

    assert {"rtsp", "rtmp", "udp", "srt"} <= set(LIVE_SCHEMES) and "http" not in LIVE_SCHEMES


# ---------------------------------------------------------------- item 5: SIGTERM finalises like Ctrl-C
def test_sigterm_finalises_the_video_and_prints_the_summary(model, shared_data, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import cv2

    out, video = tmp_path / "aus.csv", tmp_path / "annotated.mp4"
    cmd = [
        sys.executable,
        "-m",
        "aunce_rt.cli.main",
        "detect",
        str(shared_data / "video" / "openface_default.wmv"),
    ]
    cmd += ["--out", str(out), "--save-video", str(video), "--model", str(model), "--providers", "cpu"]
    proc = subprocess.Popen(
        cmd + ["--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 12):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "terminated" in err and "frames/s" in err  # the summary
    rows = len(read_rows(out))
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert rows >= 11 and frames >= rows - 1  # every frame written so far is playable


# ---------------------------------------------------------------- item 7 (subset): third-party noise
def _run_cli(*args: str, env: dict[str, str] | None = None):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "aunce_rt.cli.main", *args]
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("OPENCV_FFMPEG_LOGLEVEL", "OPENCV_LOG_LEVEL")
    }
    full_env.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=full_env)


def test_ffmpeg_noise_only_with_vv(model, shared_data, tmp_path):
    data = (shared_data / "video" / "openface_changeLighting.wmv").read_bytes()
    broken = tmp_path / "broken.wmv"
    broken.write_bytes(data[: len(data) // 2])  # FFmpeg complains while decoding it
    args = [
        "detect",
        str(broken),
        "--out",
        str(tmp_path / "a.csv"),
        "--model",
        str(model),
        "--providers",
        "cpu",
    ]
    quiet = _run_cli(*args)
    assert quiet.returncode == 0, quiet.stderr
    assert "[wmv2 @" not in quiet.stderr and "truncated" in quiet.stderr  # our warning stays
    loud = _run_cli("-vv", *args)
    assert loud.returncode == 0 and "[wmv2 @" in loud.stderr


def test_noise_settings_leave_the_users_variables_alone(monkeypatch):
    from aunce_rt.cli._noise import QUIET_ENV, quiet_third_party_logs

    for name in QUIET_ENV:  # monkeypatch restores them afterwards
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENCV_FFMPEG_LOGLEVEL", "24")
    chosen = quiet_third_party_logs(0)
    assert os.environ["OPENCV_FFMPEG_LOGLEVEL"] == "24" and "OPENCV_FFMPEG_LOGLEVEL" not in chosen
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
