"""`check_output_path`: fail before any work when an output file cannot be written."""

from __future__ import annotations

import os
from collections.abc import Iterable
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


VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".m4v", ".mov", ".avi")


def check_video_path(path: str | Path) -> Path:
    """`check_output_path` plus a suffix `VideoSink` can write (.mp4, .m4v, .mov, .avi).

    Raises:
        OutputError: the suffix is not a video one, or the path cannot be written.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputError(
            f"cannot write an annotated video to {str(path)!r}: unknown suffix {path.suffix or '(none)'!r}; "
            f"name it {' or '.join(VIDEO_SUFFIXES)}, e.g. {str(path.with_suffix('.mp4'))!r}"
        )
    return check_output_path(path)


def check_not_input(path: str | Path, inputs: Iterable[str | Path], *, option: str = "output") -> Path:
    """Refuse an output ``path`` that is one of the ``inputs`` (after symlinks and ``..``).

    Args:
        path: the output file.
        inputs: the input files (a folder's images, a glob's matches, ...).
        option: how the user named the output (``--out``, ``--save-video``), for the message.

    Raises:
        OutputError: ``path`` resolves to, or is a hard link of, one of ``inputs``.
    """
    path = Path(path).expanduser()
    target = path.resolve()
    for item in inputs:
        source = Path(item).expanduser()
        same = source.resolve() == target
        if not same and path.exists() and source.exists():
            try:
                same = os.path.samefile(path, source)
            except OSError:
                same = False
        if same:
            raise OutputError(
                f"{option} {str(path)!r} is an input ({str(source)!r}); writing it would destroy it, "
                "choose another output path"
            )
    return path
