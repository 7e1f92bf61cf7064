"""``engine="ray"``: Ray actors, each holding one `AUDetector`; one task per video, bounded in flight.

Needs the optional extra (``pip install "aunce-rt[ray]"``) on the driver and on every
node. The workers write each result straight into the output folder, which must be
the same path on every node (a shared file system) when the cluster has several.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from aunce_rt.batch._job import DetectorSpec, VideoJob, run_job
from aunce_rt.batch._manifest import FAILED, ManifestRow
from aunce_rt.errors import AunceError


def _import_ray():
    try:
        import ray
    except ImportError:
        raise AunceError(
            "engine 'ray' needs Ray, which is not installed; pip install \"aunce-rt[ray]\" "
            "(or use --engine local)"
        ) from None
    return ray


def _failed(job: VideoJob, spec: DetectorSpec, exc: BaseException) -> ManifestRow:
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    return ManifestRow(job.source, "", FAILED, model=spec.model_name, error=reason)


class _Worker:
    """The actor: builds its detector once, then runs one video per call."""

    def __init__(self, spec: DetectorSpec) -> None:
        self.spec = spec
        self.detector = spec.build()

    def run(self, job: VideoJob) -> ManifestRow:
        return run_job(self.detector, job, self.spec)


def run_ray(
    jobs: Sequence[VideoJob],
    spec: DetectorSpec,
    workers: int,
    *,
    address: str | None = None,
    threads: int | None = None,
) -> Iterator[ManifestRow]:
    """Yield each job's row as it finishes, on ``workers`` actors (one CPU each by default).

    Ray is started locally when ``address`` is None and none is running, or joined
    at ``address`` (``"auto"``, ``"ray://head:10001"``). At most ``2 * workers``
    videos are in flight (back-pressure); each actor reserves ``threads`` CPUs
    (default 1), which is also its ONNX Runtime thread count.
    """
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, log_to_driver=False)
    cpus = max(1, threads or spec.num_threads or 1)
    spec = replace(spec, num_threads=cpus)
    actor = ray.remote(num_cpus=cpus)(_Worker)
    actors = [actor.remote(spec) for _ in range(max(1, workers))]
    idle = list(actors)
    pending = list(jobs)[::-1]
    running: dict = {}  # ObjectRef -> (job, actor)
    try:
        while pending or running:
            while pending and idle and len(running) < 2 * len(actors):
                job, worker = pending.pop(), idle.pop()
                running[worker.run.remote(job)] = (job, worker)
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                job, worker = running.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayActorError as exc:  # the actor died: replaced by a new one
                    actors.remove(worker)
                    worker = actor.remote(spec)
                    actors.append(worker)
                    row = _failed(job, spec, exc)
                except Exception as exc:  # the task failed outside run_job (e.g. cannot pickle)
                    row = _failed(job, spec, exc)
                idle.append(worker)
                yield row
    finally:
        for worker in actors:
            ray.kill(worker)
        if started:
            ray.shutdown()
