"""Face tracks from a folder of videos: aligned crops, cached and resumable (CLP pretraining data).

Any folder of face videos (``.mp4``, ``.avi``, ``.mpg``, ``.mpeg``, ``.mov``, ``.mkv``,
searched recursively) becomes face tracks: frames are sampled at ``fps`` (time-based,
the author's VoxCeleb pipeline used 1 fps; 0 keeps every frame), the runtime's
landmark backend finds the most confident face in each sampled frame, and
``aunce_rt.align.align_face`` warps it to the 256 px template crop that training
stores everywhere else. A track is a run of consecutive sampled frames with a face;
it ends where no face is found or where the face box jumps (IoU with the previous
box below ``min_iou``: a cut or another person).

Cache layout (``cache_dir``)::

    <video key>/t000_00000.png ...   aligned crops, track 0, sampled frame 0 ...
    <video key>/tracks.json          written last: the video is done

A rerun skips videos that have their ``tracks.json`` (resume after a kill). The
identity of a track is its speaker when ``speakers`` maps the video's relative
path to one, else ``identity="video"`` (the video) or ``"folder"`` (the video's
first folder under the root, e.g. VoxCeleb's ``id00012/<video>/...``).

Example:
    >>> index = extract_face_tracks("videos/", "cache/tracks", fps=5)   # doctest: +SKIP
    >>> len(index.tracks), index.tracks[0].frames[:2]                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aunce_rt.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["IDENTITIES", "VIDEO_SUFFIXES", "FaceTrack", "TrackIndex", "extract_face_tracks", "find_videos"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mpg", ".mpeg", ".mov", ".mkv")
IDENTITIES = ("video", "folder")
_DONE = "tracks.json"


@dataclass(frozen=True)
class FaceTrack:
    """One face track: its crops (paths relative to the cache), their times and the identity.

    Attributes:
        video: the video's path relative to the videos root.
        identity: speaker id, else the video or its folder (see the module doc).
        frames: crop paths relative to the cache folder, in time order.
        times: (len(frames),) seconds of each crop's frame in the video.
    """

    video: str
    identity: str
    frames: tuple[str, ...]
    times: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.times) or not self.frames:
            raise InputError(f"a face track needs one time per frame and >= 1 frame; got {self.video!r}")


@dataclass(frozen=True)
class TrackIndex:
    """Every face track under a cache folder.

    Attributes:
        cache_dir: the folder the crop paths are relative to.
        tracks: the tracks, ordered by video then time.
        fps: the frame rate they were sampled at (0: every frame).
    """

    cache_dir: Path
    tracks: tuple[FaceTrack, ...]
    fps: float

    @property
    def identities(self) -> tuple[str, ...]:
        """The distinct identities, sorted."""
        return tuple(sorted({t.identity for t in self.tracks}))


def find_videos(root: str | Path) -> list[Path]:
    """Every video file under ``root`` (recursive, sorted); an InputError when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"videos folder {root} does not exist; pass a folder of face videos")
    videos = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise InputError(f"no video ({', '.join(VIDEO_SUFFIXES)}) under {root}; check the folder")
    return videos


def _video_key(relative: Path) -> str:
    """A flat, filesystem-safe folder name for a video's relative path."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(relative.with_suffix("").parts))


def _identity(relative: Path, speakers: Mapping[str, str] | None, identity: str) -> str:
    if speakers is not None and relative.as_posix() in speakers:
        return str(speakers[relative.as_posix()])
    if identity == "folder" and len(relative.parts) > 1:
        return relative.parts[0]
    return relative.as_posix()


def extract_face_tracks(
    videos: str | Path,
    cache_dir: str | Path,
    *,
    fps: float = 1.0,
    landmarks: str = "facemesh",
    min_frames: int = 2,
    min_iou: float = 0.3,
    identity: str = "video",
    speakers: Mapping[str, str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> TrackIndex:
    """Extract (or read back from the cache) the face tracks of every video under ``videos``.

    Args:
        videos: a folder of face videos (searched recursively).
        cache_dir: where crops and per-video ``tracks.json`` go.
        fps: frames sampled per second of video (0: every frame).
        landmarks: the landmark backend ("facemesh" or a MediaPipe ``.task`` path).
        min_frames: shorter tracks are dropped.
        min_iou: a face box overlapping the previous one less than this starts a new track.
        identity: "video" or "folder", when ``speakers`` does not name the video.
        speakers: optional map of a video's relative path (posix) to its speaker id.
        on_progress: called with (videos done, videos) after every video.

    Returns:
        The :class:`TrackIndex` of the cache (all videos under ``videos``).
    """
    if fps < 0 or min_frames < 1 or not 0 <= min_iou <= 1:
        raise InputError(
            f"need fps >= 0, min_frames >= 1, min_iou in [0, 1]; got {fps}, {min_frames}, {min_iou}"
        )
    if identity not in IDENTITIES:
        raise InputError(f"identity must be one of {IDENTITIES}; got {identity!r}")
    root, cache = Path(videos), Path(cache_dir)
    paths = find_videos(root)
    cache.mkdir(parents=True, exist_ok=True)
    tracks: list[FaceTrack] = []
    backend: Any = None
    try:
        for done, path in enumerate(paths, start=1):
            relative = path.relative_to(root)
            key = _video_key(relative)
            marker = cache / key / _DONE
            if not marker.is_file():
                if backend is None:
                    from aunce_rt.landmarks import create_backend

                    backend = create_backend(landmarks, static=True, max_faces=1)
                _extract_video(path, cache / key, backend, fps=fps, min_frames=min_frames, min_iou=min_iou)
            ident = _identity(relative, speakers, identity)
            for row in json.loads(marker.read_text())["tracks"]:
                frames = tuple(f"{key}/{name}" for name in row["frames"])
                tracks.append(FaceTrack(relative.as_posix(), ident, frames, tuple(row["times"])))
            if on_progress is not None:
                on_progress(done, len(paths))
    finally:
        if backend is not None:
            backend.close()
    log.info("face tracks: %d tracks from %d videos in %s", len(tracks), len(paths), cache)
    return TrackIndex(cache, tuple(tracks), float(fps))


def _extract_video(
    path: Path, folder: Path, backend: Any, *, fps: float, min_frames: int, min_iou: float
) -> None:
    """Write one video's aligned crops and, last, its ``tracks.json``."""
    import cv2
    import numpy as np

    from aunce_rt.align import align_face
    from aunce_rt.boxes import box_iou
    from aunce_rt.landmarks import most_confident_face

    folder.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"OpenCV cannot open {path}; re-encode it (e.g. ffmpeg -i in -c:v libx264 out.mp4)")
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    step = 1.0 if fps <= 0 else max(1.0, src_fps / fps)  # source frames per sample
    runs: list[dict[str, list]] = []
    current: dict[str, list] | None = None
    last_box: np.ndarray | None = None
    index, next_sample = 0, 0.0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index + 1e-6 >= next_sample:
                next_sample += step
                t = index / src_fps
                face = most_confident_face(backend, frame, int(round(t * 1000)))
                jump = (
                    face is not None and last_box is not None and box_iou(face.box, last_box)[0, 0] < min_iou
                )
                if face is None or jump:
                    current = None
                if face is not None:
                    if current is None:
                        current = {"frames": [], "times": []}
                        runs.append(current)
                    crop, _ = align_face(frame, face.points)
                    name = f"t{len(runs) - 1:03d}_{len(current['frames']):05d}.png"
                    tmp = folder / f".tmp.{name}"
                    cv2.imwrite(str(tmp), crop)
                    os.replace(tmp, folder / name)
                    current["frames"].append(name)
                    current["times"].append(round(t, 4))
                last_box = None if face is None else face.box
            index += 1
    finally:
        cap.release()
    kept = [r for r in runs if len(r["frames"]) >= min_frames]
    tmp = folder / f".tmp.{_DONE}"
    tmp.write_text(json.dumps({"video": path.name, "fps": fps, "tracks": kept}))
    os.replace(tmp, folder / _DONE)
