"""`check_output_path`: fail before any work when an output file cannot be written."""

from __future__ import annotations

import os
from pathlib import Path

from aunce_rt.errors import OutputError


def check_output_path(path: str | Path) -> Path:
    """Check that ``path`` can be written as a file; return it as a `Path`.

    Raises:
        OutputError: the folder does not exist or is not writable, or ``path`` is a folder.
    """
    path = Path(path).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(
            f"output {str(path)!r} is a folder; pass a file path such as {str(path / 'out.csv')!r}"
        )
    if not folder.is_dir():
        raise OutputError(
            f"output folder {str(folder)!r} does not exist; create it (mkdir -p {folder}) or choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(
            f"cannot write {str(path)!r}: permission denied; choose a writable folder or fix its permissions"
        )
    return path
