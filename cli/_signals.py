"""SIGTERM handled as Ctrl-C: the same clean stop (files finalised, summary printed).

``kill PID``, ``docker stop`` and job schedulers send SIGTERM; Python's default
is to die on the spot, leaving an annotated mp4 without its index (unplayable)
and no summary. Inside `handle_sigterm` a SIGTERM raises `Terminated`, a
``KeyboardInterrupt``, so every ``finally`` and ``except KeyboardInterrupt``
that serves Ctrl-C serves it too; the exit code is 143 (128 + 15) instead of 130.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def handle_sigterm() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` while the block runs (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(exc: KeyboardInterrupt) -> int:
    """143 for SIGTERM, 130 for Ctrl-C."""
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
