"""Importing export/ must not let onnxruntime's `transformers/models` shadow our `models` package."""

from __future__ import annotations

import subprocess
import sys


def test_models_package_survives_onnxruntime_quantization_import():
    code = (
        "import sys\n"
        "if '' in sys.path: sys.path.remove('')\n"
        "import export, export._int8\n"
        "assert not any(p.endswith('onnxruntime/transformers') for p in sys.path), sys.path\n"
        "from models import AUModel\n"
        "import training.pretrain\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
