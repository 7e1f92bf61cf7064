"""`import aunce_rt` must never load torch: the runtime ships without it."""

from __future__ import annotations

import subprocess
import sys


def test_import_aunce_rt_does_not_import_torch():
    code = (
        "import sys, importlib, pkgutil, aunce_rt\n"
        "for m in pkgutil.walk_packages(aunce_rt.__path__, 'aunce_rt.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr
