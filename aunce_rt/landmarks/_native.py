"""Silence what MediaPipe's C++ code writes straight to stderr (file descriptor 2).

MediaPipe's graphs log through absl/glog and TFLite at start-up ("Created
TensorFlow Lite XNNPACK delegate", "Feedback manager requires ...") and on their
first frame ("Using NORM_RECT without IMAGE_DIMENSIONS ..."), ignoring
GLOG_minloglevel in the builds we pin. Python's logging cannot reach those lines,
so, when asked (the CLI asks below ``-vv``; a library user calls
:func:`quiet_native_logs`), the backends point file descriptor 2 at /dev/null
while a graph is built and while it runs its first frame, and nowhere else. A
graph opens its calculators on its own threads, so a quiet backend also runs one
blank frame inside the window: the start-up lines are all written before it closes.
Python-level stderr output of other threads during those few milliseconds is
lost too; the CLI's progress bars redraw at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

_QUIET = False


def quiet_native_logs(quiet: bool = True) -> None:
    """Silence (True) or keep (False, the default) MediaPipe's native start-up lines."""
    global _QUIET
    _QUIET = bool(quiet)


def native_logs_quiet() -> bool:
    """Whether :func:`quiet_native_logs` is on."""
    return _QUIET


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Within the block, file descriptor 2 goes to /dev/null if :func:`quiet_native_logs` is on."""
    if not _QUIET:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. a closed or captured stream)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
