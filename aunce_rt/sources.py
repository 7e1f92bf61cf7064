"""Frame sources: one function turns any input into an iterator of 8-bit BGR frames.

``open_source`` accepts a video file (any container FFmpeg reads: .mp4 .mov .avi
.mkv .wmv .webm ...), an image file, a folder of images (natural order: ``2.jpg``
before ``10.jpg``; hidden files skipped; not recursive), a glob pattern, a camera
index (``0`` or ``"0"``), an ``rtsp://`` / ``http(s)://`` / ``rtmp://`` URL, a numpy
array (``(H, W)``, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA, any dtype: see
`aunce_rt.imageio`) or a list of arrays and image paths.

Decoding runs in a background thread that fills a bounded queue of ``prefetch``
frames, so inference does not wait on I/O. For live sources (camera, stream) a
full queue drops its oldest frame instead of blocking, so results stay close to
real time; the dropped frames show as gaps in ``Frame.index``. The capture is
released when the iteration ends, when the source is closed (``close()``, leaving
the ``with`` block, garbage collection) and after any error; an error raised while
decoding is re-raised in the consuming thread.

Timestamps (``Frame.timestamp``, seconds):
    - video file: the container's presentation time (``CAP_PROP_POS_MSEC``) when it
      is finite, non-negative and increasing, else ``index / fps``;
    - single image or array: 0.0; folder, glob or list: the index (1 s per image);
    - camera or stream: wall-clock seconds since the first frame.

Example:
    >>> with open_source("video.mp4", stride=2) as frames:  # doctest: +SKIP
    ...     for frame in frames:
    ...         print(frame.index, frame.timestamp, frame.image.shape)
"""

from __future__ import annotations

import glob
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from aunce_rt.errors import InputError
from aunce_rt.imageio import IMAGE_EXTENSIONS, MIN_IMAGE_SIDE, is_image_path, read_image, to_bgr8

logger = logging.getLogger(__name__)

SourceLike = str | Path | int | np.ndarray | Sequence[str | Path | np.ndarray]

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
STREAM_TIMEOUT_MS = 10_000
# A video that decodes fewer frames than its container announces, by more than this
# many frames (or this fraction), is reported as truncated. Containers' counts are
# estimates (no_face.mp4 announces 98 frames and holds 95), hence the slack.
_TRUNCATION_SLACK_FRAMES = 3
_TRUNCATION_SLACK_FRACTION = 0.03
_JOIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based decode index in the source (kept when ``stride`` skips frames).
        timestamp: seconds from the start of the source (see the module docstring).
        image: ``(H, W, 3)`` uint8 BGR pixels.
        name: file the frame came from (the image's or video's file name) or the
            source's name (``camera 0``, the URL, ``array``).
    """

    index: int
    timestamp: float
    image: np.ndarray
    name: str


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
        is_live: True for cameras and streams (frames are dropped, never queued up).
        dropped: frames dropped so far because the consumer was slower (live only).
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
    ) -> None:
        self._kind = kind
        self._name = name
        self._fps = fps
        self._frame_count = frame_count
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
    def is_live(self) -> bool:
        """True for cameras and network streams."""
        return self._kind in ("camera", "stream")

    @property
    def dropped(self) -> int:
        """Frames dropped so far because the consumer fell behind a live source."""
        return self._producer.dropped

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


def open_source(
    source: SourceLike,
    *,
    stride: int = 1,
    prefetch: int = 8,
    drop_frames: bool | None = None,
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
    if isinstance(source, np.ndarray):
        return _open_arrays([source], stride, name="array", single=True, **opts)
    if isinstance(source, bool):
        raise InputError(f"unsupported source {source!r}; pass a path, a camera index, a URL or an array")
    if isinstance(source, int | np.integer):
        return _open_camera(int(source), stride, **opts)
    if isinstance(source, list | tuple):
        return _open_arrays(list(source), stride, name="list", single=False, **opts)
    if isinstance(source, str | Path):
        text = str(source).strip()
        if isinstance(source, str) and text.isdigit() and not Path(text).exists():
            return _open_camera(int(text), stride, **opts)
        if isinstance(source, str) and urlsplit(text).scheme.lower() in STREAM_SCHEMES:
            return _open_stream(text, stride, **opts)
        path = Path(text).expanduser()
        if path.is_dir():
            return _open_folder(path, stride, **opts)
        if path.is_file():
            if is_image_path(path):
                return _open_arrays([path], stride, name=path.name, single=True, **opts)
            return _open_video(path, stride, **opts)
        if any(ch in text for ch in "*?["):
            return _open_glob(text, stride, **opts)
        raise InputError(
            f"source {text!r} does not exist; pass an existing video, image or folder, a glob "
            "pattern, a camera index or a stream URL"
        )
    raise InputError(
        f"unsupported source of type {type(source).__name__}; pass a path, a camera index, a stream URL, "
        "a numpy array or a list of arrays/paths"
    )


# -- videos, cameras and streams ------------------------------------------------------


def _open_video(path: Path, stride: int, **opts: Any) -> FrameSource:
    if path.stat().st_size == 0:
        raise InputError(f"video {str(path)!r} is an empty (0-byte) file; pass a valid video")
    cap = cv2.VideoCapture(str(path))
    first = _first_frame(cap)
    if first is None:
        cap.release()
        raise InputError(
            f"cannot decode video {str(path)!r}: not a video FFmpeg can read (corrupt or misnamed?); "
            f"check it plays, or convert it with `ffmpeg -i {path.name} out.mp4`"
        )
    _check_size(first, str(path), cap)
    fps = _fps(cap)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = _video_frames(cap, first, stride, name=path.name, fps=fps, live=False, expected=count)
    return FrameSource(
        frames,
        kind="video",
        name=path.name,
        fps=fps,
        frame_count=_strided(count, stride) if count > 0 else None,
        release=cap.release,
        **opts,
    )


def _open_camera(index: int, stride: int, **opts: Any) -> FrameSource:
    cap = cv2.VideoCapture(index)
    first = _first_frame(cap)
    if first is None:
        cap.release()
        raise InputError(
            f"no camera at index {index}; list cameras with `v4l2-ctl --list-devices` (Linux) or "
            "your system's camera settings, check no other program holds it, or pass a video file"
        )
    name = f"camera {index}"
    _check_size(first, name, cap)
    frames = _video_frames(cap, first, stride, name=name, fps=_fps(cap), live=True, expected=0)
    return FrameSource(
        frames, kind="camera", name=name, fps=_fps(cap), frame_count=None, release=cap.release, **opts
    )


def _open_stream(url: str, stride: int, **opts: Any) -> FrameSource:
    name = _mask_url(url)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        STREAM_TIMEOUT_MS,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        STREAM_TIMEOUT_MS,
    ]
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    first = _first_frame(cap)
    if first is None:
        cap.release()
        raise InputError(
            f"cannot open stream {name!r}: no frame within {STREAM_TIMEOUT_MS / 1000:.0f} s; check the URL, "
            "the credentials and that the server is reachable (try it with `ffplay URL`)"
        )
    _check_size(first, name, cap)
    frames = _video_frames(cap, first, stride, name=name, fps=_fps(cap), live=True, expected=0)
    return FrameSource(
        frames, kind="stream", name=name, fps=_fps(cap), frame_count=None, release=cap.release, **opts
    )


def _first_frame(cap: cv2.VideoCapture) -> np.ndarray | None:
    """Read the first frame (None when the capture did not open or yields nothing)."""
    if not cap.isOpened():
        return None
    ok, image = cap.read()
    return image if ok and image is not None else None


def _check_size(image: np.ndarray, name: str, cap: cv2.VideoCapture) -> None:
    h, w = image.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        cap.release()
        raise InputError(
            f"{name}: frames of {w}x{h} px are too small; faces need at least "
            f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} px, pass a larger video"
        )


def _fps(cap: cv2.VideoCapture) -> float | None:
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    return fps if math.isfinite(fps) and 0.0 < fps < 1000.0 else None


def _video_frames(
    cap: cv2.VideoCapture,
    first: np.ndarray,
    stride: int,
    *,
    name: str,
    fps: float | None,
    live: bool,
    expected: int,
) -> Iterator[Frame]:
    """Yield every ``stride``-th frame of an opened capture whose first frame is read."""
    t0 = time.monotonic()
    last = -math.inf
    index = 0
    image: np.ndarray | None = first
    while True:
        if index % stride == 0:
            if image is None:
                ok, image = cap.read()
                if not ok or image is None:
                    break
            if live:
                timestamp = time.monotonic() - t0
            else:
                timestamp = _video_timestamp(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, index, fps, last)
            last = timestamp
            yield Frame(index=index, timestamp=timestamp, image=image, name=name)
        elif image is None and not cap.grab():
            break
        image = None
        index += 1
    if live:
        logger.warning("%s stopped delivering frames after %d frames", name, index)
    elif expected > 0 and expected - index > max(
        _TRUNCATION_SLACK_FRAMES, _TRUNCATION_SLACK_FRACTION * expected
    ):
        logger.warning(
            "%s: decoded %d of the %d frames the container announces; the file may be truncated or "
            "damaged (re-encode it with `ffmpeg -i %s out.mp4` to recover what is readable)",
            name,
            index,
            expected,
            name,
        )


def _video_timestamp(pos_s: float, index: int, fps: float | None, last: float) -> float:
    """Container time when sane (finite, >= 0, increasing), else index / fps."""
    if math.isfinite(pos_s) and pos_s >= 0.0 and pos_s > last:
        return pos_s
    step = 1.0 / fps if fps else 1.0
    return max(index * step, last + step) if math.isfinite(last) else index * step


def _mask_url(url: str) -> str:
    """``rtsp://user:secret@host/x`` -> ``rtsp://user:***@host/x`` for logs and names."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


# -- images and arrays ----------------------------------------------------------------


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key putting ``2.jpg`` before ``10.jpg`` (case-insensitive).

    Example:
        >>> sorted(["10.jpg", "2.jpg", "1.jpg"], key=natural_key)
        ['1.jpg', '2.jpg', '10.jpg']
    """
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower()))


def _open_folder(folder: Path, stride: int, **opts: Any) -> FrameSource:
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and is_image_path(p)]
    if not files:
        raise InputError(
            f"folder {str(folder)!r} holds no images; looked for {' '.join(IMAGE_EXTENSIONS)} "
            "(pass a video file directly, or a folder of images)"
        )
    files.sort(key=lambda p: natural_key(p.name))
    return _open_arrays(files, stride, name=folder.name or str(folder), single=False, **opts)


def _open_glob(pattern: str, stride: int, **opts: Any) -> FrameSource:
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
    return _open_arrays(files, stride, name=pattern, single=False, **opts)


def _open_arrays(
    items: list[Any],
    stride: int,
    *,
    name: str,
    single: bool,
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
    if single:
        frame = _load(items[0], 0, 0.0)
        frames: Iterator[Frame] = iter([frame])
    else:
        frames = (_load(items[i], i, float(i)) for i in range(0, len(items), stride))
    return FrameSource(
        frames,
        kind=kind,
        name=name,
        fps=None,
        frame_count=_strided(len(items), 1 if single else stride),
        **opts,
    )


def _load(item: str | Path | np.ndarray, index: int, timestamp: float) -> Frame:
    if isinstance(item, np.ndarray):
        name = f"array{index}"
        return Frame(index=index, timestamp=timestamp, image=to_bgr8(item, name=name), name=name)
    path = Path(item).expanduser()
    return Frame(index=index, timestamp=timestamp, image=read_image(path), name=path.name)


def _strided(count: int, stride: int) -> int:
    return (count + stride - 1) // stride
