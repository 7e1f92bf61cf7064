"""The built wheel installs one import package, `aunce_rt`, and its floors import only downward.

Builds the wheel from this checkout, installs it with no dependencies into a
fresh virtual environment whose dependencies come from the test environment's
site-packages (a ``.pth`` line: nothing is downloaded), then checks what landed
in site-packages, that the console script runs, that the mapped sub-packages
import from the installed copy, and the import-linter contracts on that tree.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{cmd} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python of a fresh venv with the wheel installed, that venv's site-packages)."""
    tmp = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)])
    (wheel,) = (tmp / "dist").glob("aunce_rt-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    # Dependencies (numpy, mediapipe, typer, import-linter, ...) from this environment, after
    # the venv's own site-packages: the installed aunce_rt wins over any other copy.
    deps = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (purelib / "zz_test_deps.pth").write_text("\n".join(deps) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)])
    return python, purelib


def test_wheel_installs_exactly_one_top_level_package(installed: tuple[Path, Path]) -> None:
    _, purelib = installed
    top = {
        p.name.removesuffix(".py")
        for p in purelib.iterdir()
        if not p.name.endswith((".dist-info", ".pth")) and p.name != "__pycache__"
    }
    assert top == {"aunce_rt"}, f"site-packages holds more than aunce_rt: {sorted(top)}"
    (dist_info,) = purelib.glob("aunce_rt-*.dist-info")
    assert (dist_info / "top_level.txt").read_text().split() == ["aunce_rt"] or not (
        dist_info / "top_level.txt"
    ).exists()


def test_every_source_package_is_in_the_wheel(installed: tuple[Path, Path]) -> None:
    """pyproject's explicit package list misses no folder with an __init__.py."""
    _, purelib = installed
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            installed_dir = purelib.joinpath(*name.split("."), rel)
            assert (installed_dir / "__init__.py").is_file(), f"{init.parent} is not in the wheel"
            for src in init.parent.glob("*.py"):
                assert (installed_dir / src.name).is_file(), f"{src} is not in the wheel"


def test_console_script_and_namespace_run_from_the_wheel(installed: tuple[Path, Path]) -> None:
    python, purelib = installed
    out = _run([str(python.parent / "aunce-rt"), "--help"], cwd="/")
    assert "detect" in out.stdout and "train" in out.stdout
    code = (
        "import aunce_rt, aunce_rt.training.config, aunce_rt.models, aunce_rt.export, aunce_rt.cli.main\n"
        "import aunce_rt.synthau, aunce_rt.datasets.protocol, aunce_rt.evaluation.metrics, aunce_rt.pipelines\n"
        "print(aunce_rt.__file__); print(aunce_rt.training.config.__file__)\n"
        "print(len(aunce_rt.datasets.protocol.load_protocol('bp4d').au_codes))\n"
    )
    lines = _run([str(python), "-c", code], cwd="/").stdout.split()
    assert all(line.startswith(str(purelib)) for line in lines[:2]), lines
    assert int(lines[2]) == 12  # the protocol YAML (package data) is in the wheel


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is not installed (dev extra)")
def test_import_contracts_hold_on_the_installed_tree(installed: tuple[Path, Path]) -> None:
    python, purelib = installed
    cmd = [
        str(python),
        "-c",
        "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
    ]
    out = subprocess.run(
        [*cmd, str(ROOT / "pyproject.toml"), "--no-cache"], cwd=purelib, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-2000:]
