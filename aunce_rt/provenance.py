"""Provenance helpers shared by training runs, exports and recipes: git revision, JSON-ready values."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["git_revision", "jsonable"]


def git_revision(path: str | Path | None = None) -> str:
    """The commit of the git work tree holding ``path`` (default: this package), "-dirty" if modified.

    Returns the full 40-hex commit (plus "-dirty" when tracked files differ from
    it), or "" outside a git work tree or without git.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    rev = head.stdout.strip()
    return f"{rev}-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else rev


def jsonable(obj: Any, *, digits: int | None = None) -> Any:
    """``obj`` with numpy scalars/arrays, tuples and paths turned into JSON values.

    Non-finite floats become None (JSON has no NaN); ``digits`` rounds floats.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, digits=digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, digits=digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), digits=digits)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        if not math.isfinite(value):
            return None
        return round(value, digits) if digits is not None else value
    if isinstance(obj, Path):
        return str(obj)
    return obj
