"""Output paths of `aunce-rt detect`: one per source, all checked before any work.

Every output (``--out`` and ``--save-video``, per source) is checked before the
model loads: its folder exists and is writable, its suffix names a format, it is
not one of the inputs (a file, a folder's image, a glob's match, also through a
symlink, a hard link or a relative path) and no two outputs are the same file.
"""

from __future__ import annotations

import re
from pathlib import Path

from aunce_rt.errors import OutputError
from aunce_rt.sinks import check_not_input, check_output_path, check_video_path, sink_format
from aunce_rt.sources import source_files


def per_source_path(out: Path, source: str, index: int, multi: bool) -> Path:
    """``out`` itself for one source, ``<stem>_<NN>_<source stem><suffix>`` for several."""
    if not multi:
        return out
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source.rstrip("/\\")).stem or source).strip("_") or "source"
    return out.with_name(f"{out.stem}_{index:02d}_{stem}{out.suffix}")


def plan_outputs(
    sources: list[str], out: Path, fmt: str | None, save_video: Path | None
) -> tuple[list[Path], list[Path | None]]:
    """The per-source result files and annotated videos, every one checked.

    Raises:
        OutputError: an output cannot be written, has an unknown suffix, is an
            input, or is used twice.
    """
    multi = len(sources) > 1
    outs = [per_source_path(out, s, i, multi) for i, s in enumerate(sources)]
    videos = [per_source_path(save_video, s, i, multi) if save_video else None for i, s in enumerate(sources)]
    inputs = [f for s in sources for f in source_files(s)]
    seen: dict[Path, str] = {}
    for option, paths in (("--out", outs), ("--save-video", videos)):
        for path in paths:
            if path is None:
                continue
            check_not_input(path, inputs, option=option)
            if option == "--save-video":
                check_video_path(path)
            else:
                check_output_path(path)
            key = path.expanduser().resolve()
            if key in seen:
                raise OutputError(
                    f"{option} {str(path)!r} is also the {seen[key]} output; give each output its own path"
                )
            seen[key] = option
    sink_format(out, fmt)  # a known format; a .json name is refused (JSON Lines goes to .jsonl)
    return outs, videos
