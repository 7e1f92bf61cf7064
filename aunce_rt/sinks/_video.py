"""`VideoSink`: write annotated frames to a video file."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from aunce_rt.errors import InputError, OutputError
from aunce_rt.sinks._paths import check_video_path

logger = logging.getLogger(__name__)


class VideoSink:
    """Annotated-video writer (``cv2.VideoWriter``; mp4v, or MJPG for .avi).

    Args:
        path: video file to create; its folder must exist.
        fps: frame rate; None or <= 0 writes 30 fps (e.g. for image folders).
        size: ``(width, height)``; None takes the first frame's size. Frames of
            another size are resized (with one logged warning).

    Example:
        >>> with VideoSink("annotated.mp4", fps=30) as out:  # doctest: +SKIP
        ...     out.write(draw_overlay(frame.image, result))
    """

    def __init__(
        self, path: str | Path, fps: float | None = None, size: tuple[int, int] | None = None
    ) -> None:
        self.path = check_video_path(path)
        if fps is None or not math.isfinite(fps) or fps <= 0:
            fps = 30.0
        self.fps = float(fps)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.frames = 0
        self._writer: cv2.VideoWriter | None = None
        self._warned = False
        if self.size is not None:
            self._open(self.size)

    def _open(self, size: tuple[int, int]) -> None:
        fourcc = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc), self.fps, size)
        if not writer.isOpened():
            writer.release()
            raise OutputError(
                f"cannot open a video writer for {str(self.path)!r} ({fourcc}, {size[0]}x{size[1]}); "
                "use a .mp4 or .avi name in a writable folder"
            )
        self._writer = writer
        self.size = size

    def write(self, image_bgr: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 BGR frame."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise InputError(
                f"VideoSink.write expects (H, W, 3) uint8 BGR; got {image_bgr.shape} {image_bgr.dtype}"
            )
        h, w = image_bgr.shape[:2]
        if self._writer is None:
            self._open(self.size or (w, h))
        assert self.size is not None and self._writer is not None
        if (w, h) != self.size:
            if not self._warned:
                logger.warning("%s: frames of %dx%d resized to %dx%d", self.path, w, h, *self.size)
                self._warned = True
            image_bgr = cv2.resize(image_bgr, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image_bgr)
        self.frames += 1

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
