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
