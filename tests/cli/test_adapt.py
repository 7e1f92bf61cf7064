"""`aunce-rt adapt`: end to end on real face video and a SynthAU clip, before/after; bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from aunce_rt.cli.main import app
from aunce_rt.metadata import METADATA_KEY
from tests.training.test_adapt import write_clp_model

runner = CliRunner()


def test_adapt_runs_on_real_video_and_a_synthau_clip_and_prints_before_and_after(
    tmp_path: Path, shared_data: Path
) -> None:
    from aunce_rt.evaluation.runtime_eval import render_people_clip

    base = write_clp_model(tmp_path / "base.pt")
    clip = render_people_clip(tmp_path / "synthau.mp4", people=1, frames_per_person=30, fps=10.0, seed=5)
    grid = shared_data / "video_cc" / "grid"
    out = tmp_path / "adapted.onnx"
    args = ["adapt", str(grid), str(clip.video), "--model", str(base), "--out", str(out), "--epochs", "1",
            "--eval", "synthau", "--eval-people", "1", "--eval-frames", "20"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    # 10 GRID speakers + the SynthAU person, each a video of its own identity
    assert "face tracks of 11 identities" in " ".join(result.output.split())
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if line.strip()}
    assert lines["AU"][:3] == ["AU", "F1", "before"] and len(lines["mean"]) == 5
    meta = json.loads({p.key: p.value for p in onnx.load(out).metadata_props}[METADATA_KEY])
    assert meta["encoder"] == "clp" and meta["training"]["adapted_from"] == str(base.resolve())
    assert meta["training"]["adapt"]["epochs"] == 1 and meta["training"]["adapt"]["tracks"] == 11
    assert (tmp_path / "adapted_adapt" / "model.pt").is_file() and (
        tmp_path / "adapted_adapt" / "base.onnx"
    ).is_file()
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "--overwrite" in again.output


@pytest.mark.parametrize(
    ("change", "message"),
    [("aunce", "method: clp"), ("onnx-out", "expected an .onnx"), ("no-folder", "does not exist")],
)
def test_adapt_refuses_bad_input_in_one_line(tmp_path: Path, change: str, message: str) -> None:
    from aunce_rt.models import AUModel, AUProbe, create_encoder, save_model

    model = write_clp_model(tmp_path / "base.pt")
    out = tmp_path / "adapted.onnx"
    if change == "aunce":
        model = save_model(tmp_path / "aunce.pt", AUModel(create_encoder("resnet10t", 2, node_dim=8),
                                                          AUProbe(2, 8)), au_codes=[1, 2])  # fmt: skip
    elif change == "onnx-out":
        out = tmp_path / "adapted.pt"
    else:
        out = tmp_path / "nowhere" / "adapted.onnx"
    (tmp_path / "v.mp4").write_bytes(b"")
    result = runner.invoke(app, ["adapt", str(tmp_path / "v.mp4"), "--model", str(model), "--out", str(out)])
    assert result.exit_code == 1 and message in " ".join(result.output.split()), result.output
