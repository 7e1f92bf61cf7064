"""README command 1 installs the runtime only; the extras say what they add; CI runs command 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_base_install_is_torch_free_and_jax_cannot_backtrack() -> None:
    base = _names(PROJECT["dependencies"])
    assert not base & {"torch", "torchvision", "timm", "onnx", "onnxruntime-gpu"}, base
    caps = {r.split("<=")[0]: r.split("<=")[1] for r in PROJECT["dependencies"] if r.startswith("jax")}
    # mediapipe pulls jax/jaxlib unbounded; every jax after 0.7.1 needs numpy>=2, which we exclude
    assert caps == {"jax": "0.7.1", "jaxlib": "0.7.1"}, caps
    assert any(r.startswith("numpy") and "<2" in r for r in PROJECT["dependencies"])


def test_readme_commands_are_the_runtime_demo_and_the_ci_suite() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("```bash") : readme.index("```", readme.index("```bash") + 7)]
    first, second = (line for line in block.splitlines() if line.startswith("python3 -m venv"))
    assert first.endswith("pip install -e . && aunce-rt demo"), first
    assert second.endswith('pip install -e ".[all]" && python -m pytest -q'), second
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[all]"' in ci and "python -m pytest -q" in ci
    assert "gpu" not in PROJECT["optional-dependencies"]["all"][0]
