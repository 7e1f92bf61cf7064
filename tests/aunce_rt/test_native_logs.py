"""MediaPipe's native start-up lines: silenced only when asked, and only inside the block."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _stderr_of(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr


def test_fd2_goes_to_devnull_inside_the_block_only_when_quiet() -> None:
    code = (
        "import os\n"
        "from aunce_rt.landmarks._native import native_stderr_silenced, quiet_native_logs\n"
        "with native_stderr_silenced(): os.write(2, b'kept-default\\n')\n"
        "quiet_native_logs(True)\n"
        "with native_stderr_silenced(): os.write(2, b'dropped\\n')\n"
        "os.write(2, b'after\\n')\n"
    )
    assert _stderr_of(code).split() == ["kept-default", "after"]


@pytest.mark.parametrize("verbose", [[], ["-vv"]])
def test_cli_start_up_lines_only_at_vv(verbose: list[str], shared_data: Path, tmp_path: Path) -> None:
    image = shared_data / "images" / "single_face.jpg"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "aunce_rt.cli",
            *verbose,
            "detect",
            str(image),
            "--out",
            str(tmp_path / "a.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    noisy = "XNNPACK" in out.stderr or "W0000" in out.stderr
    assert noisy == bool(verbose), out.stderr[:2000]
