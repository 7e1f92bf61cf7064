"""Exceptions raised by aunce-rt.

Every error says what was received, what was expected and how to fix it. The CLI
turns them into a one-line message and a non-zero exit code.
"""

from __future__ import annotations


class AunceError(Exception):
    """Base class of every error aunce-rt raises on purpose."""


class InputError(AunceError, ValueError):
    """A source, image, path or argument the user gave cannot be used."""


class ModelError(AunceError):
    """A model file is missing, corrupt, without metadata or of the wrong shape."""


class OutputError(AunceError, OSError):
    """An output path cannot be created or written."""
