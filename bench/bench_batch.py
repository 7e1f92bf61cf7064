"""`batch_detect` on 8 videos: 2 workers against 1, on the local engine and on Ray.

The 8 videos are the six of ``../shared/data/video`` plus a second link to the two
longest (``openface_default.wmv``, ``noface_face.mov``) under other names, run with
the bundled default model on the CPU. Each run starts from an empty output folder
and is timed from the call to the return of `batch_detect` (so it includes starting
the worker processes or the Ray actors and loading the model in each). The cores
are split between workers: ONNX Runtime threads = cores // workers (both engines).

Peak memory per worker is the largest peak resident set (``VmHWM``) seen among the
worker processes (the pool's children locally, the ``ray::_Worker`` actor
processes on Ray), sampled every 0.2 s. ``load`` is the 1-minute load average at
the end of the run: above the core count, other programs shared the cores and the
speed-up says little.

    .venv/bin/python bench/bench_batch.py                 # local and ray (if installed)
    .venv/bin/python bench/bench_batch.py --quick         # every 3rd frame
    .venv/bin/python bench/bench_batch.py --engines local
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from aunce_rt.batch import batch_detect

log = logging.getLogger("bench_batch")
ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "video"
EXTRA = {"openface_default_2.wmv": "openface_default.wmv", "noface_face_2.mov": "noface_face.mov"}


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _ray_workers() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::_Worker"):
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


class PeakMemory(threading.Thread):
    """Samples the peak resident set (VmHWM, MiB) of the worker processes until stopped."""

    def __init__(self, engine: str) -> None:
        super().__init__(daemon=True)
        self.engine, self.peak, self.stop = engine, {}, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            pids = _ray_workers() if self.engine == "ray" else _descendants(os.getpid())
            for pid in pids:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak[pid] = max(self.peak.get(pid, 0.0), int(line.split()[1]) / 1024)


def run(engine: str, workers: int, folder: Path, stride: int) -> tuple[float, int, float, int]:
    """Seconds, frames, peak MiB per worker and failures of one batch from scratch."""
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as out:
        sampler = PeakMemory(engine)
        sampler.start()
        start = time.perf_counter()
        if engine == "ray":
            import ray

            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
        try:
            manifest = batch_detect(
                [folder], out, engine=engine, workers=workers, providers="cpu", stride=stride,
                threads=max(1, cores // workers),
            )  # fmt: skip
        finally:
            if engine == "ray":
                ray.shutdown()
        seconds = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()
    frames = sum(r.frames for r in manifest.rows)
    return seconds, frames, max(sampler.peak.values(), default=float("nan")), len(manifest.failed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    ap.add_argument("--quick", action="store_true", help="analyse every 3rd frame")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    engines = list(args.engines)
    if "ray" in engines:
        try:
            import ray  # noqa: F401
        except ImportError:
            log.warning("ray is not installed (pip install aunce-rt[ray]): the ray engine is not measured")
            engines.remove("ray")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for video in sorted(VIDEOS.iterdir()):
            (folder / video.name).symlink_to(video)
        for name, target in EXTRA.items():
            (folder / name).symlink_to(VIDEOS / target)
        stride = 3 if args.quick else 1
        print(f"### Batch detection: 8 videos, default model, CPU, {os.cpu_count()} cores, stride {stride}\n")
        print(
            "| engine | workers | seconds | frames | frames/s | speed-up | peak MiB per worker | failed | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for engine in engines:
            base = None
            for workers in (1, 2):
                seconds, frames, peak, failed = run(engine, workers, folder, stride)
                base = base or seconds
                print(
                    f"| {engine} | {workers} | {seconds:.1f} | {frames} | {frames / seconds:.1f} | "
                    f"{base / seconds:.2f} | {peak:.0f} | {failed} | {os.getloadavg()[0]:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
