"""`aunce-rt export` through CliRunner: summary, next command, one-line errors, ME-GraphAU import."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from typer.testing import CliRunner

from aunce_rt.aus import BENCHMARK_AUS
from aunce_rt.cli.main import app
from aunce_rt.export._crops import random_crops
from aunce_rt.export._graph import read_metadata
from aunce_rt.export._verify import run_probs, session
from aunce_rt.models.convert import MEGRAPH_PROBABILITY_THRESHOLD
from tests.models.megraph_reference import RefMEFARG, randomize_batchnorm

runner = CliRunner()


def _one_line_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "error:" in text and "Traceback" not in result.output
    for needle in needles:
        assert needle in text, text


def test_export_prints_summary_and_next_command(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    result = runner.invoke(app, ["export", str(tiny_checkpoint), "--out", str(out), "--features"])
    assert result.exit_code == 0, result.output
    assert f"aunce-rt detect video.mp4 --model {out} --out aus.csv" in result.output
    assert "ORT fp32 vs PyTorch" in result.output
    assert read_metadata(onnx.load(str(out))).has_features


def _usage_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    """Typer's own validation (a missing path, an unknown choice): exit code 2, no traceback."""
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.replace("│", " ").split())
    assert "Invalid value" in text and "Traceback" not in result.output
    for needle in needles:
        assert needle in text, text


def test_export_labelled_prints_f1_of_fp32_and_the_variant(
    tiny: object, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    import cv2

    crops = random_crops(6, seed=9)
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    for i, crop in enumerate(crops):
        cv2.imwrite(str(labelled / f"{i}.png"), crop[:, :, ::-1])
    labels = (run_probs(session(tiny.path), crops) >= 0.5).astype(int)  # type: ignore[attr-defined]
    (labelled / "images.txt").write_text("\n".join(f"{i}.png" for i in range(len(crops))) + "\n")
    (labelled / "labels.txt").write_text("\n".join(" ".join(map(str, r)) for r in labels) + "\n")
    out = tmp_path / "m16.onnx"
    args = ["export", str(tiny_checkpoint), "--out", str(out), "--fp16", "--labelled", str(labelled)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    row = text[text.index("F1-macro fp32") :].split("F1-macro fp16")[0]  # "F1-macro fp32 │ 50.0% │"
    assert f"{100 * labels.any(axis=0).mean():.1f}%" in row and "F1-macro fp16" in text


def test_bad_paths_and_options(tiny_checkpoint: Path, tmp_path: Path) -> None:
    _usage_error(runner.invoke(app, ["export", str(tmp_path / "nope.pt")]), "does not exist")
    _usage_error(runner.invoke(app, ["export", str(tmp_path)]), "is a directory")
    _one_line_error(
        runner.invoke(app, ["export", str(tiny_checkpoint), "--out", str(tmp_path / "no" / "m.onnx")]),
        "output folder",
        "does not exist",
    )
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(torch.randint(0, 255, (256,), dtype=torch.uint8).numpy().tobytes())
    _one_line_error(
        runner.invoke(app, ["export", str(corrupt), "--out", str(tmp_path / "m.onnx")]), "corrupt.pt"
    )
    _one_line_error(
        runner.invoke(
            app, ["export", str(tiny_checkpoint), "--fp16", "--int8", "--out", str(tmp_path / "m.onnx")]
        ),
        "exclusive",
    )
    _one_line_error(runner.invoke(app, ["export", str(tiny_checkpoint), "--calib", str(tmp_path)]), "--int8")
    _one_line_error(
        runner.invoke(app, ["export", str(tiny_checkpoint), "--int8-scheme", "dynamic"]), "add --int8"
    )
    _usage_error(
        runner.invoke(app, ["export", str(tiny_checkpoint), "--int8", "--int8-scheme", "fast"]),
        "'fast' is not one of",
        "'auto', 'static', 'dynamic'",
    )
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_tensorrt_flag_without_tensorrt_fails_before_exporting(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["export", str(tiny_checkpoint), "--out", str(out), "--tensorrt"])
    _one_line_error(result, "TensorRT not available", "install tensorrt on a machine with an NVIDIA GPU")
    assert not out.exists()


def test_from_megraph_end_to_end(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = RefMEFARG("resnet18", num_classes=12).eval()
    randomize_batchnorm(ref, torch.Generator().manual_seed(1))
    ckpt = tmp_path / "MEFARG_resnet18_BP4D_fold1.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}}, ckpt)
    out = tmp_path / "megraph.onnx"
    result = runner.invoke(app, ["export", str(ckpt), "--from-megraph", "resnet18", "--out", str(out)])
    assert result.exit_code == 0, result.output
    meta = read_metadata(onnx.load(str(out)))
    assert meta.au_codes == BENCHMARK_AUS["bp4d"] and meta.backbone == "resnet18"
    assert meta.thresholds == pytest.approx((MEGRAPH_PROBABILITY_THRESHOLD,) * 12)
    crops = random_crops(3, seed=11)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.no_grad():
        cosine = ref(x).numpy()  # ME-GraphAU's own output; ours is sigmoid of it
    got = run_probs(session(out), crops)
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-cosine)), atol=1e-4)


def test_from_megraph_rejects_a_non_megraph_file(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["export", str(tiny_checkpoint), "--from-megraph", "resnet18", "--out", str(tmp_path / "m.onnx")]
    )
    _one_line_error(result, "ME-GraphAU")
