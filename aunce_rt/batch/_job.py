"""One video of a batch: `run_job` streams it through `process` into a temporary file, then renames it."""

from __future__ import annotations

import logging
import os
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aunce_rt.batch._manifest import FAILED, OK, ManifestRow

if TYPE_CHECKING:
    from aunce_rt.detector import AUDetector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorSpec:
    """How each worker builds its `AUDetector` (picklable: sent to processes and Ray actors)."""

    model: str | None = None
    providers: str = "auto"
    max_faces: int = 8
    thresholds: float | None = None
    smoothing: float | None = None
    landmarks: str = "facemesh"
    num_threads: int | None = None
    stride: int = 1
    quiet_native_logs: bool = False  # the caller's `aunce_rt.landmarks.quiet_native_logs` setting

    @property
    def model_name(self) -> str:
        """The model's file name ("default" for the bundled default)."""
        return Path(self.model).name if self.model else "default"

    def build(self) -> AUDetector:
        """A new detector with these settings, for a worker process or actor.

        It also applies the worker's MediaPipe log setting and gives OpenCV (video decoding,
        resizing) the worker's share of the cores: left at its default, every worker's OpenCV
        would use all of them, and two workers on two cores ran 1.34x one worker instead of
        1.50x (``bench/bench_batch.py``, 2026-12-02).
        """
        import cv2

        from aunce_rt.detector import AUDetector
        from aunce_rt.landmarks import quiet_native_logs

        quiet_native_logs(self.quiet_native_logs)
        if self.num_threads:
            cv2.setNumThreads(int(self.num_threads))

        return AUDetector(
            self.model,
            providers=self.providers,
            max_faces=self.max_faces,
            thresholds=self.thresholds,
            smoothing=self.smoothing,
            landmarks=self.landmarks,
            num_threads=self.num_threads,
        )


@dataclass(frozen=True)
class VideoJob:
    """One video to analyse: its source, its output folder and its paths inside it."""

    source: str
    out_dir: str
    output: str  # relative to out_dir
    fmt: str  # "csv" or "jsonl"
    video: str | None = None  # annotated video, relative to out_dir


def partial_path(path: Path) -> Path:
    """The temporary name a result is written under until it is complete (hidden, same suffix)."""
    return path.with_name(f".{path.name}.part{path.suffix}")


def run_job(detector: AUDetector, job: VideoJob, spec: DetectorSpec) -> ManifestRow:
    """Analyse one video; every error becomes a failed row (never raised), Ctrl-C propagates.

    The rows go to a hidden temporary file renamed to the output only once the whole
    video was read, so an output that exists is complete (and is verified on resume).
    """
    from aunce_rt.frame_loop import process
    from aunce_rt.sinks import open_sink

    out_dir = Path(job.out_dir)
    out = out_dir / job.output
    video = out_dir / job.video if job.video else None
    tmp, tmp_video = partial_path(out), partial_path(video) if video else None
    frames, faces, start = 0, set(), time.perf_counter()
    sink = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        sink = open_sink(tmp, job.fmt, detector.au_codes, intensity_codes=detector.intensity_codes)
        with closing(process(job.source, detector, [sink], video=tmp_video, stride=spec.stride)) as results:
            for result in results:
                frames += 1
                faces.update(face.face_id for face in result.faces)
        sink.close()
        if tmp_video is not None:
            os.replace(tmp_video, video)
        os.replace(tmp, out)
    except Exception as exc:  # one bad video never stops the batch: recorded with its error
        for path in (tmp, tmp_video):
            if path is not None:
                path.unlink(missing_ok=True)
        message = " ".join(str(exc).split()) or type(exc).__name__
        logger.debug("batch: %s failed", job.source, exc_info=True)
        return ManifestRow(
            source=job.source,
            output="",
            status=FAILED,
            frames=frames,
            seconds=round(time.perf_counter() - start, 3),
            model=spec.model_name,
            error=message,
        )
    finally:
        if sink is not None:
            sink.close()
    seconds = time.perf_counter() - start
    return ManifestRow(  # rounded as the manifest stores them
        source=job.source,
        output=job.output,
        status=OK,
        frames=frames,
        rows=sink.rows,
        faces=len(faces),
        seconds=round(seconds, 3),
        fps=round(frames / seconds, 2) if seconds > 0 else 0.0,
        model=spec.model_name,
    )
