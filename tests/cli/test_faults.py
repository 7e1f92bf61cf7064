"""Issue 16, the runtime's fault paths: nothing lost, nothing destroyed, no traceback."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aunce_rt.cli.main import app
from tests.tiny_onnx import write_tiny_model

runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


def _detect(model: Path, *args: str):
    return runner.invoke(
        app, ["detect", *args, "--model", str(model), "--providers", "cpu", "--threads", "1"]
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "error:" in result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, text


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
        _one_line_error(_detect(model, str(victim), *args), "victim.wmv", "is an input")
        assert victim.read_bytes() == original
    assert not (tmp_path / "aus.csv").exists()


def test_output_that_is_an_image_of_an_input_folder_is_refused(model, shared_data, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for name in ("001.jpg", "002.jpg"):
        shutil.copy(shared_data / "image_sequence" / name, folder / name)
    original = (folder / "002.jpg").read_bytes()
    _one_line_error(
        _detect(model, str(folder), "--out", str(folder / "002.jpg"), "--format", "csv"), "002.jpg"
    )
    assert (folder / "002.jpg").read_bytes() == original


def test_out_and_save_video_cannot_be_the_same_file(model, shared_data, tmp_path):
    image = str(shared_data / "images" / "single_face.jpg")
    same = str(tmp_path / "x.avi")
    _one_line_error(_detect(model, image, "--out", same, "--format", "csv", "--save-video", same), "x.avi")


def test_save_video_suffix_is_checked_before_processing(model, shared_data, tmp_path):
    out = tmp_path / "aus.csv"
    video = str(shared_data / "video" / "single_face.mp4")
    _one_line_error(
        _detect(model, video, "--out", str(out), "--save-video", str(tmp_path / "a.xyz")), "a.xyz"
    )
    assert not out.exists()  # no partial CSV left behind
    _one_line_error(
        _detect(model, video, "--out", str(out), "--save-video", str(tmp_path / "missing" / "a.mp4")),
        "does not exist",
    )
    assert not out.exists()
    _one_line_error(_detect(model, video, "--out", str(tmp_path / "aus.txt")), "aus.txt")
