"""How the `aunce-rt` app is put together: explicit add_typer wiring, Typer validation, entry points."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from aunce_rt.cli.main import app

runner = CliRunner()

COMMANDS = ("detect", "webcam", "info", "plot", "demo", "export")
GROUPS = {
    "data": ("synth", "clip"),
    "train": ("prepare", "pretrain", "linear", "eval", "report", "experiment", "tsne", "recipe"),
    "eval": ("images",),
}


def test_every_command_and_group_is_on_the_root():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for name in (*COMMANDS, *GROUPS):
        assert f" {name} " in result.output, name
    for group, commands in GROUPS.items():
        result = runner.invoke(app, [group, "--help"])
        assert result.exit_code == 0, result.output
        for name in commands:
            assert f" {name} " in result.output, f"{group} {name}"


def test_command_modules_register_nothing_on_import():
    # Importing a command module must not import the root app (no registration by side effect).
    code = (
        "import sys\n"
        "import aunce_rt.cli.detect, aunce_rt.cli.demo, aunce_rt.cli.plot, aunce_rt.cli.data\n"
        "import aunce_rt.cli.export, aunce_rt.cli.train\n"
        "print('aunce_rt.cli.main' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_python_dash_m_runs_the_cli():
    for module in ("aunce_rt.cli", "aunce_rt.cli.main"):
        out = subprocess.run(
            [sys.executable, "-m", module, "--version"], capture_output=True, text=True, check=False
        )
        assert out.returncode == 0 and out.stdout.startswith("aunce-rt "), (module, out.stdout, out.stderr)
        out = subprocess.run([sys.executable, "-m", module, "info", "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "--providers" in out.stdout, (module, out.stderr)


def test_typer_validates_choices():
    for args in (
        ["demo", "--providers", "gpu"],
        ["detect", "x.mp4", "--out", "a.csv", "--providers", "gpu"],
        ["detect", "x.mp4", "--out", "a.csv", "--format", "xml"],
        ["info", "--providers", "metal"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Invalid value" in result.output, (args, result.output)


def test_typer_validates_plot_inputs(tmp_path):
    result = runner.invoke(app, ["plot", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "p.png")])
    assert result.exit_code == 2 and "does not exist" in " ".join(result.output.split())
    result = runner.invoke(app, ["plot", str(tmp_path), "--out", str(tmp_path / "p.png")])
    assert result.exit_code == 2 and "directory" in result.output


def test_plot_value_intensity_draws_openface_au_r(tmp_path, shared_data):
    csv = shared_data / "reference/openface2/openface_default.openface2.csv"
    out = tmp_path / "r.png"
    result = runner.invoke(
        app, ["plot", str(csv), "--out", str(out), "--value", "intensity", "--aus", "1,12"]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    result = runner.invoke(app, ["plot", str(csv), "--out", str(out), "--value", "loud"])
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_info_says_which_aus_have_an_intensity(tmp_path):
    import numpy as np

    from aunce_rt.export._geometry_head import GeometryHead, build_geometry_model
    from aunce_rt.export._graph import save_model_proto
    from aunce_rt.geometry import NUM_POINTS
    from tests.tiny_onnx import tiny_metadata, write_tiny_model

    def head(k: int) -> GeometryHead:
        return GeometryHead(np.zeros((NUM_POINTS * 3, k), np.float32), np.full(k, 1.0, np.float32))

    model = build_geometry_model(head(12), tiny_metadata(intensity_aus=(1, 2)), intensity=head(2))
    path = save_model_proto(model, tmp_path / "m.onnx")
    result = runner.invoke(app, ["info", str(path), "--providers", "cpu"])
    assert result.exit_code == 0, result.output
    assert "intensity output: 2 AUs on 0-5 (AUxx_r)" in result.output
    old = runner.invoke(app, ["info", str(write_tiny_model(tmp_path / "old.onnx")), "--providers", "cpu"])
    assert old.exit_code == 0 and "intensity output: none (no AUxx_r columns)" in old.output
