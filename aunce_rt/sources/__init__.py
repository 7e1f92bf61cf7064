"""Frame sources: one function turns any input into an iterator of 8-bit BGR frames.

``open_source`` accepts a video file (any container FFmpeg reads: .mp4 .mov .avi
.mkv .wmv .webm ...), an image file, a folder of images (natural order: ``2.jpg``
before ``10.jpg``; hidden files skipped; not recursive), a glob pattern, a camera
index (``0`` or ``"0"``), an ``rtsp://`` / ``http(s)://`` / ``rtmp://`` URL (an
http(s) URL to a finite file, e.g. a .mp4 on a web server, is decoded as a file:
every frame, kind ``"video"``; only live protocols and endless http streams are
live), a numpy
array (``(H, W)``, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA, any dtype: see
`aunce_rt.imageio`) or a list of arrays and image paths.

Decoding runs in a background thread that fills a bounded queue of ``prefetch``
frames, so inference does not wait on I/O. For live sources (camera, stream) a
full queue drops its oldest frame instead of blocking, so results stay close to
real time; the dropped frames show as gaps in ``Frame.index`` and are counted in
``FrameSource.dropped`` (``open_source(..., drop_frames=True)`` asks for this on
any source, ``False`` never drops). The capture is
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

from aunce_rt.sources._capture import LIVE_SCHEMES, STREAM_SCHEMES, STREAM_TIMEOUT_MS
from aunce_rt.sources._frame import Frame
from aunce_rt.sources._images import natural_key
from aunce_rt.sources._open import SourceLike, open_source, source_files
from aunce_rt.sources._prefetch import FrameSource

__all__ = [
    "LIVE_SCHEMES",
    "STREAM_SCHEMES",
    "STREAM_TIMEOUT_MS",
    "Frame",
    "FrameSource",
    "SourceLike",
    "natural_key",
    "open_source",
    "source_files",
]
