"""Importing the int8 quantiser must not let onnxruntime's `transformers/models` shadow ours.

onnxruntime.transformers appends its own folder (which holds a `models/` package)
to sys.path. Everything of ours lives under the `aunce_rt` namespace, so that
folder can no longer shadow anything: no sys.path repair is needed.
"""

from __future__ import annotations

import subprocess
import sys


def test_models_package_survives_onnxruntime_quantization_import():
    code = (
        "import sys\n"
        "if '' in sys.path: sys.path.remove('')\n"
        "import aunce_rt.export._int8\n"
        "import onnxruntime.transformers.float16\n"  # the fp16 converter appends that folder too
        "import aunce_rt.models\n"
        "from aunce_rt.models import AUModel\n"
        "import aunce_rt.training.pretrain\n"
        "print(aunce_rt.models.__name__, AUModel.__module__.split('.')[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == "aunce_rt.models aunce_rt", out.stderr[-2000:]
