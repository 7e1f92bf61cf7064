"""A model trained on smaller inputs (112 px, for CPU speed) exports and runs end to end."""

from __future__ import annotations

import numpy as np

from aunce_rt.align import template, transform_points
from aunce_rt.export import export_onnx
from aunce_rt.export.testing import tiny_model_checkpoint
from aunce_rt.session import AUModelSession


def test_112px_model_exports_with_its_size_and_runs_in_the_runtime(tmp_path):
    ckpt = tiny_model_checkpoint(tmp_path)
    result = export_onnx(ckpt, tmp_path / "m112.onnx", metadata_extra={"input_size": 112})
    meta = result.metadata
    assert (meta.input_size, meta.crop_size) == (112, 128)
    assert max(a.max_abs_diff for a in result.parity) <= 1e-4
    session = AUModelSession(result.path, providers="cpu")
    assert session.metadata.input_size == 112
    crops = np.random.default_rng(0).integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)
    probs = session.run(crops)
    assert probs.shape == (3, 12) and np.all((probs >= 0) & (probs <= 1))


def test_detector_feeds_the_model_its_own_input_size(tmp_path):
    from aunce_rt.align import LAYOUTS, aligned_input
    from aunce_rt.detector import AUDetector
    from aunce_rt.landmarks import FaceLandmarks
    from aunce_rt.sources import Frame

    ckpt = tiny_model_checkpoint(tmp_path)
    path = export_onnx(ckpt, tmp_path / "m112.onnx", metadata_extra={"input_size": 112}).path
    img = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    five = transform_points(template(), np.array([[1.5, 0, 100], [0, 1.5, 40]]))
    points = np.zeros((478, 2), np.float32)
    for k, idx in enumerate(LAYOUTS["mediapipe"]):
        points[list(idx)] = five[k]
    face = FaceLandmarks(points, np.zeros(478, np.float32), 0.9, np.array([100, 40, 484, 424], np.float32))

    class OneFace:
        def process(self, rgb, timestamp_ms):
            return [face]

        def close(self):
            pass

    detector = AUDetector(model=path, providers="cpu")
    pending = detector._prepare(Frame(0, 0.0, img, "noise"), OneFace(), 0.0)
    assert pending.crops.shape == (1, 112, 112, 3)
    rgb = img[:, :, ::-1]
    np.testing.assert_array_equal(pending.crops[0], aligned_input(rgb, points, "mediapipe", input_size=112))
    (result,) = detector._finish_window([pending], None, None)
    assert result.faces[0].probabilities.shape == (12,)


def _checkpoint_trained_at(tmp_path, image_size: int):
    """The tiny checkpoint re-saved as a training run saves it: the size only in extra['config']."""
    from aunce_rt.models.checkpoint import load_model, save_model

    loaded = load_model(tiny_model_checkpoint(tmp_path), map_location="cpu")
    extra = {"dataset": "none", "config": {"data": {"image_size": image_size, "crop_size": 64}}}
    return save_model(
        tmp_path / f"trained{image_size}.pt", loaded.model, au_codes=loaded.au_codes, extra=extra
    )


def test_export_uses_the_checkpoints_trained_image_size(tmp_path):
    """Issue 16 item 6: a checkpoint trained at 56 px exports a 56 px input."""
    ckpt = _checkpoint_trained_at(tmp_path, 56)
    result = export_onnx(ckpt, tmp_path / "m56.onnx")
    assert result.metadata.input_size == 56
    assert AUModelSession(result.path, providers="cpu").input_size == 56


def test_cli_image_size_overrides_the_checkpoint(tmp_path):
    from typer.testing import CliRunner

    from aunce_rt.cli.main import app

    ckpt = _checkpoint_trained_at(tmp_path, 56)
    out = tmp_path / "m112.onnx"
    result = CliRunner().invoke(app, ["export", str(ckpt), "--out", str(out), "--image-size", "112"])
    assert result.exit_code == 0, result.output
    assert AUModelSession(out, providers="cpu").input_size == 112
    bad = CliRunner().invoke(app, ["export", str(ckpt), "--out", str(out), "--image-size", "8"])
    assert bad.exit_code == 2  # a usage error: below the smallest side
