"""`expand_sources`: paths, folders (recursive), globs and .txt/.csv lists -> the videos of a batch."""

from __future__ import annotations

import csv
import glob
import os
from pathlib import Path

from aunce_rt.errors import InputError

VIDEO_SUFFIXES: tuple[str, ...] = (
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".wmv", ".webm", ".mpg", ".mpeg", ".flv", ".3gp", ".ts",
)  # fmt: skip
LIST_SUFFIXES: tuple[str, ...] = (".txt", ".csv")


def expand_sources(sources: str | Path | list[str | Path] | tuple[str | Path, ...]) -> dict[Path, Path]:
    """Every video a batch reads, in order, each once: absolute path -> its path in the output tree.

    Paths are made absolute without resolving links, so two links to one file are two videos.

    A file is taken as given (whatever its suffix, so a corrupt ``.mp4`` is reported,
    not skipped); a folder gives its videos (recursively, by suffix: `VIDEO_SUFFIXES`);
    a glob gives its matching files (``**`` recurses); a ``.txt`` or ``.csv`` file is
    a list of such sources, one per line (a CSV's first column; a header ``source``
    or ``path`` and ``#`` comments are skipped; relative lines are relative to the list).

    The output tree mirrors each source: a folder's videos keep their paths below
    the folder, a glob's below its fixed prefix, a file keeps its name. Should two
    videos get the same path that way, every video's path is taken below the
    videos' common folder instead (which never collides).

    Raises:
        InputError: a source that is none of these (a typo), or no video at all.
    """
    items = [sources] if isinstance(sources, str | Path) else list(sources)
    found: dict[Path, Path] = {}
    for item in items:
        for path, rel in _expand_one(str(item).strip()):
            found.setdefault(Path(os.path.abspath(path)), rel)
    if not found:
        raise InputError(f"no video found in {[str(s) for s in items]}; pass video files, folders or globs")
    if len(set(found.values())) < len(found):
        root = Path(os.path.commonpath([str(v.parent) for v in found]))
        found = {v: v.relative_to(root) for v in found}
    return found


def _expand_one(text: str, base: Path | None = None) -> list[tuple[Path, Path]]:
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
        return [p for line in _list_lines(path) for p in _expand_one(line, path.parent)]
    if path.is_file():
        return [(path, Path(path.name))]
    if path.is_dir():
        videos = (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        return [(p, p.relative_to(path)) for p in sorted(videos, key=str)]
    if any(ch in text for ch in "*?["):
        fixed = Path(*[part for part in _prefix(path.parts)])
        matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        return [(p, p.relative_to(fixed)) for p in matches]
    raise InputError(f"source {text!r} is not a file, folder or glob that exists; check the path")


def _prefix(parts: tuple[str, ...]) -> list[str]:
    """The folders of a glob pattern before its first wildcard."""
    fixed: list[str] = []
    for part in parts[:-1]:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return fixed or ["."]


def _list_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read the source list {str(path)!r} ({exc}); pass a UTF-8 text file"
        ) from None
    if path.suffix.lower() == ".csv":
        lines = [row[0] for row in csv.reader(text.splitlines()) if row]
    else:
        lines = text.splitlines()
    lines = [line.strip() for line in lines]
    lines = [line for line in lines if line and not line.startswith("#")]
    if lines and lines[0].lower() in ("source", "path"):
        lines = lines[1:]
    return lines


def output_names(videos: dict[Path, Path], suffix: str) -> dict[Path, Path]:
    """Each video's result path relative to the output folder: its tree path plus ``suffix``.

    The video's own suffix stays in the name (``x.mp4.csv``), so ``x.mp4`` and ``x.mov``
    never share an output.
    """
    return {v: rel.with_name(rel.name + suffix) for v, rel in videos.items()}
