"""Video files, cameras and network streams opened with OpenCV's ``VideoCapture``.

Skipped frames (``stride``) are grabbed, not decoded. Timestamps: a video file's
container time when it is finite, non-negative and increasing, else
``index / fps``; cameras and streams: wall-clock seconds since the first frame.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from aunce_rt.errors import InputError
from aunce_rt.imageio import MIN_IMAGE_SIDE
from aunce_rt.sources._frame import Frame, strided_count
from aunce_rt.sources._prefetch import FrameSource

logger = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
# Protocols that only carry live streams. An http(s) URL is live only when the server
# sends no finite file (no frame count: MJPEG, a live HLS playlist).
LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "udp", "tcp", "srt")
STREAM_TIMEOUT_MS = 10_000
# Ports of the TCP-carried schemes when the URL names none (udp and srt have no connection to probe).
_TCP_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443, "tcp": None}
_PROBE_TIMEOUT_S = 3.0
# A video that decodes fewer frames than its container announces, by more than this
# many frames (or this fraction), is reported as truncated. Containers' counts are
# estimates (no_face.mp4 announces 98 frames and holds 95), hence the slack.
_TRUNCATION_SLACK_FRAMES = 3
_TRUNCATION_SLACK_FRACTION = 0.03


# Text formats FFmpeg legitimately opens as media (playlists, session descriptions).
_TEXT_MEDIA_SUFFIXES = (".m3u", ".m3u8", ".sdp", ".txt.m3u8")
_SNIFF_BYTES = 4096


def open_video(path: Path, stride: int, **opts: Any) -> FrameSource:
    if path.stat().st_size == 0:
        raise InputError(f"video {str(path)!r} is an empty (0-byte) file; pass a valid video")
    if path.suffix.lower() not in _TEXT_MEDIA_SUFFIXES and _is_text(path):
        # FFmpeg's tty demuxer would render the text as a "video" of frames without faces.
        raise InputError(
            f"{str(path)!r} is a text file, not a video or an image; pass a video (.mp4 .mov .avi .mkv "
            ".wmv ...), an image or a folder of images"
        )
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
        frame_count=strided_count(count, stride) if count > 0 else None,
        release=cap.release,
        stride=stride,
        **opts,
    )


def open_camera(index: int, stride: int, **opts: Any) -> FrameSource:
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
        frames,
        kind="camera",
        name=name,
        fps=_fps(cap),
        frame_count=None,
        release=cap.release,
        stride=stride,
        **opts,
    )


def open_stream(url: str, stride: int, **opts: Any) -> FrameSource:
    name = _mask_url(url)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        STREAM_TIMEOUT_MS,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        STREAM_TIMEOUT_MS,
    ]
    t0 = time.monotonic()
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    first = _first_frame(cap)
    if first is None:
        cap.release()
        raise InputError(_stream_failure(url, name, time.monotonic() - t0))
    _check_size(first, name, cap)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if urlsplit(url).scheme.lower() not in LIVE_SCHEMES and count > 0:
        # A finite file over http(s): decoded as a file, every frame, container timestamps.
        fps = _fps(cap)
        frames = _video_frames(cap, first, stride, name=name, fps=fps, live=False, expected=count)
        return FrameSource(
            frames,
            kind="video",
            name=name,
            fps=fps,
            frame_count=strided_count(count, stride),
            release=cap.release,
            stride=stride,
            **opts,
        )
    frames = _video_frames(cap, first, stride, name=name, fps=_fps(cap), live=True, expected=0)
    return FrameSource(
        frames,
        kind="stream",
        name=name,
        fps=_fps(cap),
        frame_count=None,
        release=cap.release,
        stride=stride,
        **opts,
    )


def _stream_failure(url: str, name: str, elapsed_s: float) -> str:
    """Why a stream gave no first frame, in one line: OpenCV reports only that it failed."""
    cause = _connect_failure(url)
    if cause is not None:
        return f"could not connect to {name!r}: {cause}; check the address and that the stream is up"
    if elapsed_s < 0.9 * STREAM_TIMEOUT_MS / 1000:
        return (
            f"cannot open stream {name!r}: the server gave no video FFmpeg can read; check the URL's "
            "path and the credentials (try it with `ffplay URL`)"
        )
    return (
        f"cannot open stream {name!r}: no frame within {STREAM_TIMEOUT_MS / 1000:.0f} s; check the URL, "
        "the credentials and that the server is reachable (try it with `ffplay URL`)"
    )


def _connect_failure(url: str) -> str | None:
    """'connection refused', 'unknown host ...' and the like when a TCP connection to the URL's
    server fails; None when it succeeds, times out or the scheme has no connection (udp, srt)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _TCP_DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or _TCP_DEFAULT_PORTS[scheme]
    except ValueError:  # a port that is not a number
        return "the port is not a number"
    if port is None:
        return None
    try:
        with socket.create_connection((parts.hostname, port), timeout=_PROBE_TIMEOUT_S):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except socket.gaierror:
        return f"unknown host {parts.hostname!r}"
    except TimeoutError:
        return None  # the caller's message covers a server that does not answer
    except OSError as exc:  # network or host unreachable
        return (exc.strerror or type(exc).__name__).lower()


def _is_text(path: Path) -> bool:
    """True when the file starts with text (UTF-8, no NUL byte): no video container does."""
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # only a multi-byte character cut at the end
    return True


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
