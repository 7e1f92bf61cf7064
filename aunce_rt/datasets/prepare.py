"""Preprocessing: benchmark frames -> aligned 256x256 crops with the runtime's alignment.

``prepare(raw_dir, "bp4d", out)`` reads the benchmark's annotations (its raw
layout, or a CSV manifest of full frames), finds each frame's landmarks (the
dataset's own 68/49-point files when present, else MediaPipe via
``aunce_rt.landmarks``), aligns with ``aunce_rt.align`` (the same template and
warp as the runtime) and writes ``out/crops/<relative path>.png``. It is
resumable (a crop already on disk is skipped; crops are written atomically),
runs over processes, and keeps every frame where no face was found in
``out/no_face.txt`` (never silently dropped). ``out/manifest.csv`` lists the
crops with subjects and labels, ready for ``data.format: manifest``.

Example:
    >>> report = prepare("/data/BP4D", "bp4d", "/data/bp4d_crops", workers=8)  # doctest: +SKIP
    >>> report.written, len(report.no_face)                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aunce_rt.align import CROP_SIZE, align_face
from aunce_rt.datasets.formats import read_manifest, write_manifest
from aunce_rt.datasets.index import AUIndex
from aunce_rt.datasets.protocol import load_protocol
from aunce_rt.datasets.raw import read_raw
from aunce_rt.errors import InputError, OutputError

logger = logging.getLogger(__name__)

LANDMARK_SUFFIXES = (".npy", ".txt", ".pts")
LANDMARK_MODES = ("auto", "dataset", "mediapipe")


@dataclass(frozen=True)
class PrepareReport:
    """What :func:`prepare` did.

    Attributes:
        out_dir: the output folder.
        manifest: ``out_dir/manifest.csv`` (crops that exist, with labels).
        total: annotated frames.
        written: crops written by this call.
        skipped: crops already on disk (resumed).
        no_face: relative paths of frames where no face/landmarks were found.
        no_face_file: ``out_dir/no_face.txt``.
    """

    out_dir: Path
    manifest: Path
    total: int
    written: int
    skipped: int
    no_face: tuple[str, ...] = field(default=())
    no_face_file: Path | None = None


@dataclass(frozen=True)
class _Job:
    image: str
    out: str
    landmarks: str | None


def read_landmarks(path: str | Path) -> np.ndarray:
    """Landmarks (L, 2) from a .npy array or a text file of "x y" rows (.txt/.pts, '{'/'}' lines ignored)."""
    path = Path(path)
    if path.suffix == ".npy":
        pts = np.load(path)
    else:
        rows = []
        for line_no, line in enumerate(path.read_text().splitlines(), start=1):
            tokens = line.replace(",", " ").split()
            if len(tokens) < 2 or not _is_number(tokens[0]):
                continue  # headers of the .pts format ("version: 1", "{", "}")
            try:
                rows.append([float(tokens[0]), float(tokens[1])])
            except ValueError:
                raise InputError(f"{path}:{line_no}: expected 'x y', got {line!r}") from None
        pts = np.array(rows, dtype=np.float64)
    pts = np.asarray(pts, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 2 or pts.shape[0] not in (5, 49, 68, 468, 478):
        raise InputError(f"{path}: landmarks of shape {pts.shape}; expected (68|49|478, 2)")
    return pts[:, :2]


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def find_landmarks(image: Path, raw_dir: Path, landmarks_dir: Path | None) -> Path | None:
    """The dataset landmark file of ``image``: beside it, or mirrored under ``landmarks_dir``."""
    candidates = [image.with_suffix(s) for s in LANDMARK_SUFFIXES]
    if landmarks_dir is not None:
        try:
            rel = image.relative_to(raw_dir)
        except ValueError:
            rel = Path(image.name)
        candidates = [landmarks_dir / rel.with_suffix(s) for s in LANDMARK_SUFFIXES] + candidates
    return next((c for c in candidates if c.is_file()), None)


_BACKEND = None


def _mediapipe_points(image_bgr: np.ndarray) -> np.ndarray | None:
    """478 MediaPipe landmarks of the most confident face, or None (one backend per process)."""
    global _BACKEND
    from aunce_rt.landmarks import create_backend, most_confident_face

    if _BACKEND is None:
        _BACKEND = create_backend("facemesh", static=True, max_faces=1)
    face = most_confident_face(_BACKEND, image_bgr)
    return None if face is None else face.points


def _write_atomic(path: Path, image: np.ndarray) -> None:
    import cv2

    ok, buf = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OutputError(f"cannot encode crop {path}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


def _run_job(job: _Job, mode: str, size: int) -> tuple[str, bool]:
    """Align one frame; returns (output path, found a face)."""
    import cv2

    image = cv2.imread(job.image, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read frame {job.image!r}; is it a valid image?")
    if job.landmarks is not None and mode in ("auto", "dataset"):
        points = read_landmarks(job.landmarks)
    elif mode == "dataset":
        return job.out, False
    else:
        points = _mediapipe_points(image)
        if points is None:
            return job.out, False
    crop, _ = align_face(image, points, size=size)
    out = Path(job.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(out, crop)
    return job.out, True


def _run_chunk(jobs: Sequence[_Job], mode: str, size: int) -> list[tuple[str, bool]]:
    return [_run_job(j, mode, size) for j in jobs]


def _chunks(items: Sequence[_Job], n: int) -> Iterator[Sequence[_Job]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def prepare(
    raw_dir: str | Path,
    dataset: str,
    out: str | Path,
    *,
    manifest: str | Path | None = None,
    landmarks: str = "auto",
    landmarks_dir: str | Path | None = None,
    workers: int = 1,
    size: int = CROP_SIZE,
    on_progress: Callable[[int, int], None] | None = None,
) -> PrepareReport:
    """Align every annotated frame of a benchmark into ``out``.

    Args:
        raw_dir: the benchmark's root folder (its raw annotation layout), or the
            folder a ``manifest``'s relative paths start from.
        dataset: protocol name ("bp4d", "disfa", "affwild2", ...): AU list, labels, layout.
        out: output folder (crops/, manifest.csv, no_face.txt, prepare.json).
        manifest: a CSV manifest of full frames (path, subject, AU columns) to
            use instead of the raw layout (GFT, custom data).
        landmarks: "auto" (dataset landmark files when present, else MediaPipe),
            "dataset" (only dataset files; a frame without one is a no-face frame)
            or "mediapipe".
        landmarks_dir: folder mirroring ``raw_dir`` with .npy/.txt/.pts landmark files.
        workers: processes (1 = in this process).
        size: side of the aligned crop (256 = the template's native crop).
        on_progress: called with (frames finished, total) as work completes.

    Returns:
        A :class:`PrepareReport`.
    """
    if landmarks not in LANDMARK_MODES:
        raise InputError(f"landmarks must be one of {LANDMARK_MODES}; got {landmarks!r}")
    raw_dir, out = Path(raw_dir), Path(out)
    protocol = load_protocol(dataset)
    index: AUIndex
    if manifest is not None:
        index = read_manifest(manifest, protocol.au_codes, root=raw_dir)
    else:
        index = read_raw(raw_dir, protocol)
    try:
        (out / "crops").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out} ({exc}); choose a writable folder") from None
    lm_dir = Path(landmarks_dir) if landmarks_dir is not None else None
    crops, jobs, skipped = [], [], 0
    for p in index.paths:
        image = Path(p)
        try:
            rel = image.resolve().relative_to(raw_dir.resolve())
        except ValueError:
            rel = Path(image.name)
        crop = out / "crops" / rel.with_suffix(".png")
        crops.append(crop)
        if crop.is_file():
            skipped += 1
            continue
        lm = find_landmarks(image, raw_dir, lm_dir) if landmarks != "mediapipe" else None
        jobs.append(_Job(str(image), str(crop), str(lm) if lm else None))
    total, done = len(index), skipped
    results: list[tuple[str, bool]] = []
    if on_progress is not None:
        on_progress(done, total)
    chunk = max(1, min(64, len(jobs) // max(1, workers * 4) or 1))
    if workers <= 1:
        for job in jobs:
            results.append(_run_job(job, landmarks, size))
            done += 1
            if on_progress is not None:
                on_progress(done, total)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run_chunk, c, landmarks, size) for c in _chunks(jobs, chunk)]
            for fut in futures:
                part = fut.result()
                results.extend(part)
                done += len(part)
                if on_progress is not None:
                    on_progress(done, total)
    no_face_set = {o for o, ok in results if not ok}
    keep = [i for i, c in enumerate(crops) if c.is_file()]
    prepared = AUIndex(
        tuple(str(crops[i]) for i in keep),
        index.labels[keep],
        tuple(index.subjects[i] for i in keep),
        index.au_codes,
        source=str(out / "manifest.csv"),
        groups=tuple(index.groups[i] for i in keep) if index.groups else (),
        intensities=None if index.intensities is None else index.intensities[keep],
    )
    manifest_path = write_manifest(prepared, out / "manifest.csv", root=out)
    no_face = tuple(
        str(Path(index.paths[i]).resolve().relative_to(raw_dir.resolve()))
        if Path(index.paths[i]).resolve().is_relative_to(raw_dir.resolve())
        else index.paths[i]
        for i, c in enumerate(crops)
        if str(c) in no_face_set
    )
    no_face_file = out / "no_face.txt"
    no_face_file.write_text("".join(f"{p}\n" for p in no_face))
    written = sum(ok for _, ok in results)
    summary = {"dataset": protocol.name, "total": total, "written": written, "skipped": skipped}
    (out / "prepare.json").write_text(json.dumps({**summary, "no_face": len(no_face)}, indent=2))
    if no_face:
        logger.warning("%d of %d frames had no face; listed in %s", len(no_face), total, no_face_file)
    return PrepareReport(out, manifest_path, total, written, skipped, no_face, no_face_file)
