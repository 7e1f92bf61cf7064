"""`aunce-rt batch` with the tiny ONNX model: the same rows as `aunce-rt detect`, manifest, resume, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aunce_rt.cli.main import app
from tests.cli.helpers import assert_one_line_error, run_detect
from tests.conftest import SHARED_VIDEOS
from tests.tiny_onnx import write_tiny_model

runner = CliRunner()
VIDEOS = SHARED_VIDEOS


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


def run_batch(model: Path, *args: str):  # -> click.testing.Result
    return runner.invoke(app, ["batch", *args, "--model", str(model), "--providers", "cpu"])


def test_batch_rows_equal_detect_and_the_corrupt_video_is_recorded(model, shared_data, tmp_path):
    folder = tmp_path / "study"
    (folder / "site_b").mkdir(parents=True)
    for i, name in enumerate(VIDEOS):  # links: the real media is never copied
        (folder / ("site_b" if i % 2 else "") / name).symlink_to(shared_data / "video" / name)
    (folder / "site_b" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    out = tmp_path / "out"
    result = run_batch(model, str(folder), "--out", str(out), "--workers", "2")
    assert result.exit_code == 1, result.output  # one video failed
    assert "failed:" in result.output and "corrupt.mp4" in result.output
    with open(out / "manifest.csv", newline="") as fh:
        manifest = {Path(r["source"]).name: r for r in csv.DictReader(fh)}
    assert manifest["corrupt.mp4"]["status"] == "failed" and manifest["corrupt.mp4"]["error"]
    for i, name in enumerate(VIDEOS):
        rel = Path("site_b" if i % 2 else "") / f"{name}.csv"
        assert manifest[name]["status"] == "ok" and manifest[name]["output"] == str(rel)
        reference = tmp_path / f"detect_{name}.csv"
        assert run_detect(model, str(shared_data / "video" / name), "--out", str(reference)).exit_code == 0
        assert (out / rel).read_bytes() == reference.read_bytes(), name  # the same rows, byte for byte
    again = run_batch(model, str(folder), "--out", str(out), "--workers", "2")
    assert "6 video(s) already done and verified, 1 to run" in again.output
    assert again.exit_code == 1


def test_batch_list_file_jsonl_and_annotated_video(model, shared_data, tmp_path):
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{shared_data / 'video' / 'single_face.mp4'}\n")
    out = tmp_path / "out"
    result = run_batch(model, str(listing), "--out", str(out), "--format", "jsonl", "--save-video")
    assert result.exit_code == 0, result.output
    lines = (out / "single_face.mp4.jsonl").read_text().splitlines()
    assert len(lines) == 72 and json.loads(lines[-1])["frame"] == 72
    assert (out / "single_face.mp4.annotated.mp4").stat().st_size > 0
    assert not list(out.glob(".*"))  # no temporary file left


def test_batch_bad_arguments_are_one_line_errors(model, tmp_path):
    assert_one_line_error(run_batch(model, str(tmp_path / "typo.mp4"), "--out", str(tmp_path)), "typo.mp4")
    result = run_batch(model, str(tmp_path), "--out", str(tmp_path / "o"), "--address", "auto")
    assert result.exit_code != 0 and "--address" in result.output
