"""`FrameSource`: frames decoded in a background thread into a bounded queue.

For live sources (camera, stream) a full queue drops its oldest frame instead of
blocking, so results stay close to real time. The capture is released when the
iteration ends, on ``close()``, on leaving a ``with`` block, on garbage collection
and after any error; an error raised while decoding is re-raised in the
consuming thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

from aunce_rt.sources._frame import Frame

logger = logging.getLogger(__name__)

_JOIN_TIMEOUT_S = 5.0


class _End:
    """Queue marker: the reader has no more frames."""


@dataclass(frozen=True)
class _Failure:
    """Queue marker: the reader raised ``error``."""

    error: BaseException


_END = _End()


class _Producer:
    """The decoding side: runs ``frames`` in a thread and feeds ``queue``.

    It holds no reference to its `FrameSource`, so a source the consumer drops is
    garbage collected, which closes it and stops this thread.
    """

    def __init__(
        self,
        frames: Iterator[Frame],
        *,
        prefetch: int,
        drop: bool,
        release: Callable[[], None] | None,
    ) -> None:
        self.frames = frames
        self.queue: queue.Queue[Frame | _End | _Failure] = queue.Queue(maxsize=max(1, int(prefetch)))
        self.stop = threading.Event()
        self.drop = drop
        self.dropped = 0
        self._release = release
        self._released = False
        self._lock = threading.Lock()

    def run(self) -> None:
        try:
            for frame in self.frames:
                if self.stop.is_set() or not self.put(frame):
                    break
        except BaseException as exc:
            self.put(_Failure(exc))
        finally:
            try:
                self.close_frames()
            finally:
                self.release()
                self.put(_END)

    def put(self, item: Frame | _End | _Failure) -> bool:
        """Queue ``item``; False when the source was closed meanwhile."""
        while not self.stop.is_set():
            if self.drop and isinstance(item, Frame) and self.queue.full():
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def close_frames(self) -> None:
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()

    def release(self) -> None:
        """Release the capture once."""
        with self._lock:
            if self._released:
                return
            self._released = True
        if self._release is not None:
            self._release()

    def drain(self) -> None:
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return


class FrameSource:
    """Iterator of `Frame` fed by a background decoding thread; a context manager.

    Build one with `open_source`, not directly. Iterate once; ``close()`` stops the
    thread and releases the capture (it is idempotent and called automatically at
    the end of the iteration, on errors, on leaving a ``with`` block and when the
    source is garbage collected).

    Attributes:
        kind: ``"video"``, ``"images"``, ``"camera"``, ``"stream"`` or ``"array"``.
        name: file, folder, camera or URL name (passwords in URLs masked).
        fps: frames per second of the source, None when unknown (images, arrays).
        frame_count: number of frames the iteration is expected to yield (after
            ``stride``; from the container for videos, so an estimate), None for
            live sources.
        stride: every ``stride``-th frame of the input is yielded (1: all).
        is_live: True for cameras and streams (frames are dropped, never queued up).
        dropped: frames dropped so far because the consumer was slower (live only).
        errors: one message per input skipped because it could not be read (an
            unreadable image of a folder, glob or list); the other images still run.
    """

    def __init__(
        self,
        frames: Iterator[Frame],
        *,
        kind: str,
        name: str,
        fps: float | None,
        frame_count: int | None,
        prefetch: int = 8,
        release: Callable[[], None] | None = None,
        drop_frames: bool | None = None,
        stride: int = 1,
        errors: list[str] | None = None,
    ) -> None:
        self._kind = kind
        self._stride = int(stride)
        self._name = name
        self._fps = fps
        self._frame_count = frame_count
        self._errors = errors if errors is not None else []
        drop = kind in ("camera", "stream") if drop_frames is None else bool(drop_frames)
        self._producer = _Producer(frames, prefetch=prefetch, drop=drop, release=release)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """``"video"``, ``"images"``, ``"camera"``, ``"stream"`` or ``"array"``."""
        return self._kind

    @property
    def name(self) -> str:
        """Name of the source (file, folder, ``camera 0``, masked URL, ``array``)."""
        return self._name

    @property
    def fps(self) -> float | None:
        """Frames per second of the source, None when unknown."""
        return self._fps

    @property
    def frame_count(self) -> int | None:
        """Frames the iteration should yield (after stride); None for live sources."""
        return self._frame_count

    @property
    def stride(self) -> int:
        """Every ``stride``-th frame of the input is yielded (1: all)."""
        return self._stride

    @property
    def is_live(self) -> bool:
        """True for cameras and network streams."""
        return self._kind in ("camera", "stream")

    @property
    def drops_frames(self) -> bool:
        """True when a full queue drops frames (live sources, or ``drop_frames=True``)."""
        return self._producer.drop

    @property
    def dropped(self) -> int:
        """Frames dropped so far because the consumer fell behind a live source."""
        return self._producer.dropped

    @property
    def errors(self) -> list[str]:
        """Messages of the inputs skipped so far because they could not be read."""
        return list(self._errors)

    def __repr__(self) -> str:
        return (
            f"FrameSource(kind={self._kind!r}, name={self._name!r}, fps={self._fps}, "
            f"frame_count={self._frame_count})"
        )

    def __iter__(self) -> FrameSource:
        return self

    def __next__(self) -> Frame:
        if self._closed:
            raise StopIteration
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._producer.run, name=f"aunce-rt-decode-{self._kind}", daemon=True
            )
            self._thread.start()
        while True:
            try:
                item = self._producer.queue.get(timeout=0.5)
            except queue.Empty:
                if not self._thread.is_alive() and self._producer.queue.empty():
                    self.close()
                    raise StopIteration from None
                continue
            if isinstance(item, Frame):
                return item
            self.close()
            if isinstance(item, _Failure):
                raise item.error
            raise StopIteration

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        """Stop decoding and release the capture. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        producer = self._producer
        producer.stop.set()
        thread = self._thread
        if thread is None:
            producer.close_frames()
        elif thread is not threading.current_thread():
            producer.drain()  # unblock a producer waiting on a full queue
            thread.join(timeout=_JOIN_TIMEOUT_S)
            if thread.is_alive():
                logger.warning("decoder thread of %s did not stop within %.0f s", self._name, _JOIN_TIMEOUT_S)
                return
        producer.release()
        producer.drain()
