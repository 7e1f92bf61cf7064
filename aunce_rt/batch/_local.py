"""``engine="local"``: a spawn process pool, one `AUDetector` per worker process."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from typing import TYPE_CHECKING

from aunce_rt.batch._job import DetectorSpec, VideoJob, run_job
from aunce_rt.batch._manifest import FAILED, ManifestRow

if TYPE_CHECKING:
    from aunce_rt.detector import AUDetector

_WORKER: tuple[AUDetector, DetectorSpec] | None = None  # this worker process's detector


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """ONNX Runtime intra-op threads per worker: the cores split between the workers (at least 1)."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def _init_worker(spec: DetectorSpec) -> None:
    global _WORKER
    _WORKER = (spec.build(), spec)


def _run(job: VideoJob) -> ManifestRow:
    if _WORKER is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("batch worker used before its detector was built")
    detector, spec = _WORKER
    return run_job(detector, job, spec)


def run_local(jobs: Sequence[VideoJob], spec: DetectorSpec, workers: int) -> Iterator[ManifestRow]:
    """Yield each job's row as it finishes (any order), ``workers`` processes at a time.

    At most ``2 * workers`` videos are queued at once. A worker that dies (out of
    memory, killed) fails its video with that reason; the pool is not reused after it.
    """
    if spec.num_threads is None:
        spec = replace(spec, num_threads=threads_per_worker(workers))
    context = multiprocessing.get_context("spawn")
    pending = list(jobs)[::-1]
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(spec,)) as pool:
        running: dict[Future, VideoJob] = {}
        try:
            while pending or running:
                while pending and len(running) < 2 * workers:
                    job = pending.pop()
                    try:
                        running[pool.submit(_run, job)] = job
                    except RuntimeError as exc:  # BrokenProcessPool: no worker left to run it
                        yield ManifestRow(job.source, "", FAILED, model=spec.model_name, error=str(exc))
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        yield future.result()
                    except Exception as exc:  # BrokenProcessPool: the worker died
                        reason = " ".join(str(exc).split()) or type(exc).__name__
                        yield ManifestRow(job.source, "", FAILED, model=spec.model_name, error=reason)
        finally:
            for future in running:
                future.cancel()
