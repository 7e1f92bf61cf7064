from __future__ import annotations

import subprocess
import sys

import aunce_rt


def test_public_names_resolve():
    for name in aunce_rt.__all__:
        assert getattr(aunce_rt, name) is not None
    from aunce_rt.detector import AUDetector

    assert aunce_rt.AUDetector is AUDetector


def test_import_is_light():
    code = "import sys, aunce_rt; print(sorted(m for m in ('mediapipe', 'onnxruntime', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
