"""The runtime ships without torch: `import aunce_rt`, `aunce-rt detect` and `aunce-rt demo` never need it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.tiny_onnx import write_tiny_model

# Makes `import torch` (and any torch.* module) fail, as on an install without it.
_BLOCK_TORCH = """
import sys

class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"torch is blocked in this test (import of {name})")
        return None

sys.meta_path.insert(0, _NoTorch())
"""


def _cli_without_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``aunce-rt ARGS`` in a fresh interpreter where torch cannot be imported."""
    code = _BLOCK_TORCH + (
        f"sys.argv = ['aunce-rt', *{list(args)!r}]\n"
        "from aunce_rt.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    assert 'torch' not in sys.modules\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=240, check=False
    )


def test_import_aunce_rt_does_not_import_torch():
    code = (
        "import sys, importlib, pkgutil, aunce_rt\n"
        "for m in pkgutil.walk_packages(aunce_rt.__path__, 'aunce_rt.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr


def test_the_blocker_blocks(tmp_path):
    code = _BLOCK_TORCH + "import torch\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode != 0 and "torch is blocked" in out.stderr


def test_cli_help_lists_every_command_without_torch(tmp_path):
    out = _cli_without_torch("--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for command in ("detect", "webcam", "info", "plot", "demo", "export", "data", "train"):
        assert command in out.stdout


def test_detect_runs_without_torch(shared_data, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.onnx")
    image = shared_data / "images" / "single_face.jpg"
    args = ("detect", str(image), "--out", "aus.csv", "--save-video", "annotated.mp4")
    out = _cli_without_torch(*args, "--model", str(model), "--providers", "cpu", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "aus.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("frame,face_id") and lines[1].split(",")[4] == "1"
    assert (tmp_path / "annotated.mp4").stat().st_size > 0


@pytest.mark.parametrize("model", ["tiny", "bundled"])
def test_demo_runs_without_torch(tmp_path, model):
    args = ["demo", "--out", "demo", "--people", "1", "--frames", "10", "--providers", "cpu"]
    if model == "tiny":
        args += ["--model", str(write_tiny_model(tmp_path / "tiny.onnx"))]
    out = _cli_without_torch(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "F1-macro" in out.stdout
    for name in ("clip.mp4", "aus.csv", "annotated.mp4", "aus.png"):
        assert (tmp_path / "demo" / name).stat().st_size > 0, name


# Makes torch missing as on a runtime-only install (ModuleNotFoundError with its name).
_NO_TORCH_INSTALLED = """
import sys

class _Missing:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Missing())
"""


@pytest.mark.parametrize(
    "args",
    [
        ("export", "CHECKPOINT", "--out", "m.onnx"),
        ("train", "pretrain", "CONFIG"),
    ],
)
def test_train_and_export_without_torch_are_one_line_errors(tmp_path, args):
    """Issue 16 item 7: no ModuleNotFoundError traceback, the pip command instead."""
    (tmp_path / "ckpt.pt").write_bytes(b"x")
    (tmp_path / "c.yaml").write_text("name: x\n")
    args = tuple(
        {"CHECKPOINT": str(tmp_path / "ckpt.pt"), "CONFIG": str(tmp_path / "c.yaml")}.get(a, a) for a in args
    )
    code = (
        _NO_TORCH_INSTALLED
        + f"sys.argv = ['aunce-rt', *{list(args)!r}]\nfrom aunce_rt.cli.main import main\nmain()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=240
    )
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    text = " ".join(out.stderr.split())
    assert "pip install 'aunce-rt[train]'" in text and "error:" in text, text
