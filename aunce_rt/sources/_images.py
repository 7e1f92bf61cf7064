"""Image files, folders, glob patterns, numpy arrays and lists of them as frame sources.

Folders are read in natural order (``2.jpg`` before ``10.jpg``), hidden files
skipped, not recursively. Timestamps: 0.0 for a single image or array, the index
(1 s per image) for a folder, glob or list.
"""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from aunce_rt.errors import InputError
from aunce_rt.imageio import IMAGE_EXTENSIONS, is_image_path, read_image, to_bgr8
from aunce_rt.sources._frame import Frame, strided_count
from aunce_rt.sources._prefetch import FrameSource

logger = logging.getLogger(__name__)


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key putting ``2.jpg`` before ``10.jpg`` (case-insensitive).

    Example:
        >>> sorted(["10.jpg", "2.jpg", "1.jpg"], key=natural_key)
        ['1.jpg', '2.jpg', '10.jpg']
    """
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower()))


def open_folder(folder: Path, stride: int, **opts: Any) -> FrameSource:
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and is_image_path(p)]
    if not files:
        raise InputError(
            f"folder {str(folder)!r} holds no images; looked for {' '.join(IMAGE_EXTENSIONS)} "
            "(pass a video file directly, or a folder of images)"
        )
    files.sort(key=lambda p: natural_key(p.name))
    return open_arrays(files, stride, name=folder.name or str(folder), single=False, **opts)


def open_glob(pattern: str, stride: int, **opts: Any) -> FrameSource:
    matches = [Path(p) for p in glob.glob(str(Path(pattern).expanduser()), recursive=True)]
    files = [p for p in matches if p.is_file() and is_image_path(p)]
    if not files:
        raise InputError(
            f"glob pattern {pattern!r} matches no images ({len(matches)} other paths); looked for "
            f"{' '.join(IMAGE_EXTENSIONS)}; pass videos one at a time"
        )
    if len(files) < len(matches):
        logger.warning("%s: skipped %d matches that are not images", pattern, len(matches) - len(files))
    files.sort(key=lambda p: natural_key(str(p)))
    return open_arrays(files, stride, name=pattern, single=False, **opts)


def open_arrays(
    items: list[Any],
    stride: int,
    *,
    name: str,
    single: bool,
    skip_unreadable: bool = True,
    **opts: Any,
) -> FrameSource:
    """Images from arrays and image paths. A single item is decoded now (fail fast)."""
    if not items:
        raise InputError("the list of images is empty; pass at least one array or image path")
    for i, item in enumerate(items):
        if isinstance(item, str | Path):
            path = Path(item).expanduser()
            if not path.is_file():
                raise InputError(f"item {i} of the list, {str(item)!r}, does not exist; check the path")
            if not is_image_path(path):
                raise InputError(
                    f"item {i} of the list, {str(item)!r}, is not an image ({' '.join(IMAGE_EXTENSIONS)}); "
                    "pass videos one at a time"
                )
        elif not isinstance(item, np.ndarray):
            raise InputError(
                f"item {i} of the list is a {type(item).__name__}; expected numpy arrays or image paths"
            )
    kind = "images" if any(isinstance(item, str | Path) for item in items) else "array"
    errors: list[str] = []
    if single:
        frame = _load(items[0], 0, 0.0)
        frames: Iterator[Frame] = iter([frame])
    else:
        frames = _load_all(items, stride, errors if skip_unreadable else None)
    return FrameSource(
        frames,
        kind=kind,
        name=name,
        fps=None,
        frame_count=strided_count(len(items), 1 if single else stride),
        stride=stride,
        errors=errors,
        **opts,
    )


def _load_all(items: list[Any], stride: int, errors: list[str] | None) -> Iterator[Frame]:
    """Frames of several images; an image file that cannot be read is skipped into ``errors``.

    With ``errors`` None the first unreadable image raises `InputError`.
    """
    for i in range(0, len(items), stride):
        try:
            yield _load(items[i], i, float(i))
        except InputError as exc:
            if errors is None or not isinstance(items[i], str | Path):
                raise
            logger.warning("skipped: %s", exc)
            errors.append(str(exc))


def _load(item: str | Path | np.ndarray, index: int, timestamp: float) -> Frame:
    if isinstance(item, np.ndarray):
        name = f"array{index}"
        return Frame(index=index, timestamp=timestamp, image=to_bgr8(item, name=name), name=name)
    path = Path(item).expanduser()
    return Frame(index=index, timestamp=timestamp, image=read_image(path), name=path.name)
