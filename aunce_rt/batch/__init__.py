"""`batch_detect`: AU detection over many videos, resumable, on a process pool or a Ray cluster.

Each video gets one result file in ``out_dir``, mirroring the input tree (CSV or
JSON Lines, and optionally an annotated video), written under a hidden temporary
name and renamed when the video is complete. ``out_dir/manifest.csv`` holds one
row per video (source, output, status, frames, rows, faces, seconds, fps, model,
error) and is rewritten atomically as each video finishes. Running the same batch
again keeps the finished videos whose output is verified (it parses and has the
rows and frames the manifest records) and redoes the rest, so a killed batch
resumes where it stopped. A video that fails (corrupt, unreadable) is recorded
with its error and never stops the others.

Example:
    >>> from aunce_rt.batch import batch_detect  # doctest: +SKIP
    >>> manifest = batch_detect(["study/"], "results/", workers=2)  # doctest: +SKIP
    >>> [(r.source, r.status, r.frames) for r in manifest.rows]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from aunce_rt.batch._job import DetectorSpec, VideoJob, partial_path
from aunce_rt.batch._local import run_local, threads_per_worker
from aunce_rt.batch._manifest import (
    FAILED,
    MANIFEST_NAME,
    OK,
    Manifest,
    ManifestRow,
    mark_reused,
    read_manifest,
    verify_output,
    write_manifest,
)
from aunce_rt.batch._sources import VIDEO_SUFFIXES, expand_sources, output_names
from aunce_rt.errors import InputError, OutputError
from aunce_rt.landmarks._native import native_logs_quiet

logger = logging.getLogger(__name__)
ENGINES = ("local", "ray")
FORMAT_SUFFIXES = {"csv": ".csv", "jsonl": ".jsonl"}

__all__ = [
    "ENGINES",
    "VIDEO_SUFFIXES",
    "DetectorSpec",
    "Manifest",
    "ManifestRow",
    "batch_detect",
    "expand_sources",
    "threads_per_worker",
]


def batch_detect(
    sources: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    engine: str = "local",
    workers: int = 1,
    fmt: str = "csv",
    save_video: bool = False,
    model: str | Path | None = None,
    providers: str = "auto",
    max_faces: int = 8,
    threshold: float | None = None,
    smoothing: float | None = None,
    landmarks: str = "facemesh",
    stride: int = 1,
    threads: int | None = None,
    address: str | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[ManifestRow], None] | None = None,
) -> Manifest:
    """Detect AUs in every video of ``sources``, one output file per video, resumable.

    Args:
        sources: video files, folders (searched recursively), glob patterns, or
            ``.txt``/``.csv`` lists of them (see `expand_sources`).
        out_dir: the output folder (created); holds the results and ``manifest.csv``.
        engine: ``"local"`` (a process pool) or ``"ray"`` (the ``[ray]`` extra).
        workers: parallel workers, each holding one detector.
        fmt: ``"csv"`` (OpenFace columns) or ``"jsonl"``.
        save_video: also write an annotated ``.mp4`` next to each result.
        model, providers, max_faces, threshold, smoothing, landmarks, stride: as
            for `AUDetector` and ``aunce-rt detect``.
        threads: ONNX Runtime threads per worker (default: the cores divided by
            ``workers`` locally, 1 per actor on Ray).
        address: the Ray cluster to join (``"auto"``, ``"ray://head:10001"``; None:
            a local Ray).
        on_start: called once with (videos to run, videos kept from an earlier run).
        on_result: called with each video's row as it finishes (kept ones first).

    Returns:
        The `Manifest` (its rows in source order).

    Raises:
        InputError: an unknown engine or format, workers < 1, or no video found.
        OutputError: ``out_dir`` cannot be created or written.
        AunceError: ``engine="ray"`` without Ray installed.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if fmt not in FORMAT_SUFFIXES:
        raise InputError(f"unknown format {fmt!r}; use csv or jsonl")
    if int(workers) < 1:
        raise InputError(f"workers must be >= 1; got {workers}")
    out_dir = Path(out_dir).expanduser().resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {str(out_dir)!r} ({exc.strerror})") from exc
    videos = expand_sources(sources)
    names = output_names(videos, FORMAT_SUFFIXES[fmt])
    spec = DetectorSpec(
        model=str(model) if model is not None else None,
        providers=providers,
        max_faces=max_faces,
        thresholds=threshold,
        smoothing=smoothing,
        landmarks=str(landmarks),
        num_threads=threads,
        stride=stride,
        quiet_native_logs=native_logs_quiet(),
    )
    manifest_path = out_dir / MANIFEST_NAME
    previous = read_manifest(manifest_path)
    rows: dict[str, ManifestRow | None] = {str(v): None for v in videos}
    jobs: list[VideoJob] = []
    for v in videos:
        rel = names[v]
        video = str(rel.with_name(rel.name[: -len(rel.suffix)] + ".annotated.mp4")) if save_video else None
        old = previous.get(str(v))
        why = verify_output(old, out_dir) if old is not None and old.output == str(rel) else "not finished"
        if not why and (not save_video or (out_dir / video).is_file()):
            rows[str(v)] = mark_reused(old)
            continue
        if old is not None and old.status == OK:
            logger.warning("batch: redoing %s: its output is %s", v, why)
        jobs.append(VideoJob(str(v), str(out_dir), str(rel), fmt, video))
    for job in jobs:  # leftovers of a killed run
        partial_path(out_dir / job.output).unlink(missing_ok=True)
    if on_start is not None:
        on_start(len(jobs), len(videos) - len(jobs))
    write_manifest(manifest_path, [r for r in rows.values() if r is not None])
    if on_result is not None:
        for row in rows.values():
            if row is not None:
                on_result(row)
    if jobs:
        if engine == "ray":
            from aunce_rt.batch._ray import run_ray

            results = run_ray(jobs, spec, int(workers), address=address, threads=threads)
        else:
            results = run_local(jobs, spec, int(workers))
        for row in results:
            rows[row.source] = row
            write_manifest(manifest_path, [r for r in rows.values() if r is not None])
            if row.status == FAILED:
                logger.info("batch: %s failed: %s", row.source, row.error)
            if on_result is not None:
                on_result(row)
    return Manifest(manifest_path, tuple(r for r in rows.values() if r is not None))
