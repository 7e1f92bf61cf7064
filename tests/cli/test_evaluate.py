"""`aunce-rt eval images`: a labelled folder through the runtime, table + JSON + plot, no overwrite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aunce_rt.cli.main import app
from tests.tiny_onnx import write_tiny_model

runner = CliRunner()


@pytest.fixture()
def labelled(tmp_path: Path, shared_data: Path) -> Path:
    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(shared_data / "images" / "single_face.jpg", folder / "smile.jpg")
    shutil.copy(shared_data / "images" / "openface_sample1.jpg", folder / "other.jpg")
    shutil.copy(shared_data / "images" / "free-mountain-vector-01.jpg", folder / "mountain.jpg")
    (folder / "labels.csv").write_text("image,AU12,AU04\nsmile.jpg,1,0\nother.jpg,0,\nmountain.jpg,1,1\n")
    return folder


def test_eval_images_writes_table_json_and_plot_and_never_overwrites(labelled: Path, tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "tiny.onnx")
    out = tmp_path / "report"
    args = ["eval", "images", str(labelled), "--model", str(model), "--out", str(out), "--border", "0.1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "faces found 2/3" in result.output  # the mountain has no face
    summary = json.loads((out / "eval_images.json").read_text())
    assert summary["images"] == 3 and summary["faces_found"] == 2
    assert set(summary["per_au"]) == {"AU04", "AU12"} and summary["per_au"]["AU12"]["positives"] == 2
    assert (out / "eval_images.png").read_bytes()[:4] == b"\x89PNG"
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_eval_images_rejects_a_folder_without_labels(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "images", str(tmp_path)])
    assert result.exit_code == 1 and "labels.csv" in result.output
