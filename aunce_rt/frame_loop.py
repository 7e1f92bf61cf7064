"""`process`: the one frame loop, source -> detector -> sinks -> overlay -> video.

``aunce-rt detect``, ``aunce-rt webcam`` and the runtime evaluation
(``aunce_rt.evaluation.runtime_eval``) all run this loop; a library user runs it
the same way. It is a generator of `FrameResult` (modelled on supervision's
``process_video``), so memory stays flat on long videos and the caller decides
what to do per frame (count, show progress, stop early by leaving the loop).

Whatever happens (the end of the source, a ``break`` in the caller's loop, an
error or Ctrl-C), the source is released, the annotated video is finalised and
the sinks are closed (``close_sinks=True``). Text sinks write each frame's rows
unbuffered, so every row written before an interruption stays in a valid file.

Example:
    >>> from aunce_rt import AUDetector, CSVSink, process  # doctest: +SKIP
    >>> detector = AUDetector()  # doctest: +SKIP
    >>> with CSVSink("aus.csv", detector.au_codes) as sink:  # doctest: +SKIP
    ...     for result in process("video.mp4", detector, [sink], video="annotated.mp4"):
    ...         print(result.index, len(result.faces))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from aunce_rt.overlay import draw_overlay
from aunce_rt.results import FrameResult
from aunce_rt.sinks import VideoSink
from aunce_rt.sources import Frame, FrameSource, SourceLike, open_source

if TYPE_CHECKING:
    from aunce_rt.detector import AUDetector

logger = logging.getLogger(__name__)

FrameCallback = Callable[[Frame, FrameResult], None]


class ResultSink(Protocol):
    """What `process` needs from a sink: ``CSVSink``, ``JSONLSink`` or your own."""

    def write(self, result: FrameResult) -> None:
        """Record one frame's result."""
        ...

    def close(self) -> None:
        """Flush and release the output (idempotent)."""
        ...


def process(
    source: SourceLike | FrameSource,
    detector: AUDetector,
    sinks: Sequence[ResultSink] = (),
    *,
    video: str | Path | VideoSink | None = None,
    on_frame: FrameCallback | None = None,
    stride: int | None = None,
    show_landmarks: bool = False,
    show_fps: bool = True,
    close_sinks: bool = True,
) -> Iterator[FrameResult]:
    """Run ``detector`` on every frame of ``source``, writing sinks and an annotated video.

    A generator: nothing is opened or run until the first result is requested.

    Args:
        source: anything `aunce_rt.sources.open_source` takes, or an opened
            `FrameSource` (then its ``name``, ``fps`` and ``frame_count`` can be
            read before the loop starts, e.g. for a progress bar).
        detector: the `AUDetector` to run.
        sinks: each frame's result is written to every one of them, in order.
        video: annotated video to write (a path, or an open `VideoSink`); None for none.
            A path is written at the source's frame rate divided by its stride.
        on_frame: called with ``(frame, result)`` after the sinks and the video,
            before the result is yielded (e.g. to show the frame in a window).
        stride: analyse every ``stride``-th frame (None: all, or the stride an
            opened source was opened with; a different one raises ``InputError``).
        show_landmarks: draw the landmarks in the annotated video.
        show_fps: print the per-frame processing rate in the annotated video.
        close_sinks: close ``sinks`` when the loop ends (False to reuse them for
            another source).

    Yields:
        One `FrameResult` per decoded frame, after it was written everywhere.

    Raises:
        InputError: the source cannot be opened or decoded, or ``stride``
            contradicts an opened source.
        OutputError: the video cannot be written.
    """
    opened: FrameSource | None = None
    writer: VideoSink | None = None
    try:
        if isinstance(source, FrameSource):
            opened = source
        else:
            opened = open_source(source, stride=1 if stride is None else stride)
        if isinstance(video, VideoSink):
            writer = video
        elif video is not None:
            writer = VideoSink(video, fps=_video_fps(opened))
        for frame, result in detector.stream_frames(opened, stride=stride):
            for sink in sinks:
                sink.write(result)
            if writer is not None:
                writer.write(_annotate(frame, result, show_landmarks=show_landmarks, show_fps=show_fps))
            if on_frame is not None:
                on_frame(frame, result)
            yield result
    finally:
        if opened is not None:
            opened.close()
        if writer is not None:
            writer.close()
        if close_sinks:
            for sink in sinks:
                sink.close()


def _video_fps(source: FrameSource) -> float | None:
    """Frame rate of the annotated video: the source's, divided by its stride (None: unknown)."""
    return source.fps / source.stride if source.fps else None


def _annotate(frame: Frame, result: FrameResult, *, show_landmarks: bool, show_fps: bool) -> np.ndarray:
    """The frame with ``result`` drawn on it (the rate from the frame's total time)."""
    total = result.timings.get("total") if show_fps else None
    fps = 1000.0 / total if total else None
    return draw_overlay(frame.image, result, fps=fps, show_landmarks=show_landmarks)
