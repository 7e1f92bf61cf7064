"""`open_source`: the one function that turns any supported input into a `FrameSource`."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from aunce_rt.errors import InputError
from aunce_rt.imageio import is_image_path
from aunce_rt.sources._capture import STREAM_SCHEMES, open_camera, open_stream, open_video
from aunce_rt.sources._images import open_arrays, open_folder, open_glob
from aunce_rt.sources._prefetch import FrameSource

SourceLike = str | Path | int | np.ndarray | Sequence[str | Path | np.ndarray]


def open_source(
    source: SourceLike,
    *,
    stride: int = 1,
    prefetch: int = 8,
    drop_frames: bool | None = None,
    skip_unreadable: bool = True,
) -> FrameSource:
    """Open any supported input as a `FrameSource` of 8-bit BGR frames.

    Args:
        source: video path, image path, folder, glob pattern, camera index (int or
            digit string), stream URL, numpy array, or a list of arrays / image paths.
        stride: keep every ``stride``-th frame (1 keeps all); ``Frame.index`` stays
            the decode index. Skipped video frames are grabbed, not decoded.
        prefetch: size of the decoded-frame queue.
        drop_frames: drop the oldest queued frame instead of waiting when the
            consumer is slower than the source; default True for live sources only.
        skip_unreadable: an image of a folder, glob or list of paths that cannot
            be read is skipped (with a warning, listed in ``FrameSource.errors``)
            and the others still run; False raises `InputError` at that image.

    Returns:
        An un-started `FrameSource`: the decoding thread starts at the first ``next``.

    Raises:
        InputError: the input does not exist, cannot be decoded or is of an
            unsupported type; the message names it and says how to fix it.

    Example:
        >>> with open_source(0) as cam:  # doctest: +SKIP
        ...     frame = next(cam)
    """
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
        raise InputError(f"stride must be an integer >= 1; got {stride!r}")
    if isinstance(prefetch, bool) or not isinstance(prefetch, int | np.integer) or prefetch < 1:
        raise InputError(f"prefetch must be an integer >= 1; got {prefetch!r}")
    stride = int(stride)
    opts: dict[str, Any] = {"prefetch": int(prefetch), "drop_frames": drop_frames}
    many: dict[str, Any] = {**opts, "skip_unreadable": skip_unreadable}
    if isinstance(source, np.ndarray):
        return open_arrays([source], stride, name="array", single=True, **opts)
    if isinstance(source, bool):
        raise InputError(f"unsupported source {source!r}; pass a path, a camera index, a URL or an array")
    if isinstance(source, int | np.integer):
        return open_camera(int(source), stride, **opts)
    if isinstance(source, list | tuple):
        return open_arrays(list(source), stride, name="list", single=False, **many)
    if isinstance(source, str | Path):
        text = str(source).strip()
        if isinstance(source, str) and text.isdigit() and not Path(text).exists():
            return open_camera(int(text), stride, **opts)
        if isinstance(source, str) and urlsplit(text).scheme.lower() in STREAM_SCHEMES:
            return open_stream(text, stride, **opts)
        path = Path(text).expanduser()
        if path.is_dir():
            return open_folder(path, stride, **many)
        if path.is_file():
            if is_image_path(path):
                return open_arrays([path], stride, name=path.name, single=True, **opts)
            return open_video(path, stride, **opts)
        if any(ch in text for ch in "*?["):
            return open_glob(text, stride, **many)
        raise InputError(
            f"source {text!r} does not exist; pass an existing video, image or folder, a glob "
            "pattern, a camera index or a stream URL"
        )
    raise InputError(
        f"unsupported source of type {type(source).__name__}; pass a path, a camera index, a stream URL, "
        "a numpy array or a list of arrays/paths"
    )


def source_files(source: str | Path) -> list[Path]:
    """The files a path-like source reads: the file, a folder's files, a glob's matches.

    Cameras, URLs and paths that do not exist give an empty list. Used to refuse an
    output that would overwrite an input.
    """
    text = str(source).strip()
    if isinstance(source, str) and urlsplit(text).scheme.lower() in STREAM_SCHEMES:
        return []
    path = Path(text).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        return [p for p in path.iterdir() if p.is_file()]
    if any(ch in text for ch in "*?["):
        return [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
    return []
