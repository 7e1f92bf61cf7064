"""Runtime throughput and memory benchmark (a script, not a test).

Measures, on one 640x480 single-face video:
  * frames/s of decoding alone, of decoding + MediaPipe landmarks, and of the
    full AUDetector pipeline with a model, and the ratio full / (decode + landmarks);
  * frames/s of the library frame loop ``aunce_rt.process`` writing a CSV (what
    ``aunce-rt detect`` runs), i.e. the cost of the sink on top of the pipeline;
  * peak RSS of the full pipeline on a 1,000-frame and a 10,000-frame video (frames
    looped into temporary files), each in a fresh process: memory must stay flat.

The video is a SynthAU clip when ``aunce_rt.synthau`` is importable, else the
frames of ../shared/data/video/openface_default.wmv resized to 640x480.

Usage:
    .venv/bin/python bench/bench_runtime.py --model model.onnx [--frames 300] [--threads 1]
    .venv/bin/python bench/bench_runtime.py --model model.onnx --mem-frames 1000,10000
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEO = ROOT.parent / "shared" / "data" / "video" / "openface_default.wmv"
SIZE = (640, 480)


def _base_frames(n: int, workdir: Path) -> list[np.ndarray]:
    """Up to ``n`` distinct 640x480 BGR frames of one face (SynthAU clip or the OpenFace sample)."""
    try:
        from aunce_rt.synthau import render_clip

        clip = workdir / "synthau.mp4"
        render_clip(clip, identity=0, n_frames=min(n, 300), fps=30, seed=0, size=SIZE)
        path, source = clip, "SynthAU clip"
    except ImportError:
        if not SHARED_VIDEO.is_file():
            sys.exit(f"need aunce_rt.synthau or {SHARED_VIDEO} to make a benchmark video")
        path, source = SHARED_VIDEO, SHARED_VIDEO.name
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA))
    cap.release()
    print(f"video frames from {source}: {len(frames)} distinct, {SIZE[0]}x{SIZE[1]}")
    return frames


def write_video(path: Path, frames: list[np.ndarray], total: int, fps: float = 30.0) -> Path:
    """Write ``total`` frames (``frames`` looped back and forth) to an mp4 file."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    cycle = frames + frames[-2:0:-1] if len(frames) > 2 else frames
    for i in range(total):
        writer.write(cycle[i % len(cycle)])
    writer.release()
    return path


def _timed(frames: Iterator[object]) -> tuple[int, float]:
    start = time.perf_counter()
    n = sum(1 for _ in frames)
    return n, time.perf_counter() - start


def bench_throughput(video: Path, model: Path, threads: int | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from aunce_rt.detector import AUDetector
    from aunce_rt.frame_loop import process
    from aunce_rt.landmarks import create_backend
    from aunce_rt.sinks import CSVSink
    from aunce_rt.sources import open_source

    n_dec, t_dec = _timed(open_source(video))

    def with_landmarks() -> Iterator[int]:
        backend = create_backend("facemesh", static=False, max_faces=1)
        try:
            for frame in open_source(video):
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
                yield len(backend.process(rgb, int(frame.timestamp * 1000)))
        finally:
            backend.close()

    n_lm, t_lm = _timed(with_landmarks())
    with AUDetector(model, providers="auto", max_faces=1, num_threads=threads) as det:
        n_full, t_full = _timed(det.stream(video))
        with tempfile.TemporaryDirectory() as tmp:
            n_loop, t_loop = _timed(process(video, det, [CSVSink(Path(tmp) / "aus.csv", det.au_codes)]))
        model_line = det.describe()
    runs = {
        "decode": (n_dec, t_dec),
        "decode + landmarks": (n_lm, t_lm),
        "full pipeline": (n_full, t_full),
        "process + CSV sink": (n_loop, t_loop),
    }
    fps = {name: n / t for name, (n, t) in runs.items()}
    table = Table("stage", "frames", "frames/s", "ms/frame", title=f"runtime throughput ({video.name})")
    for name, value in fps.items():
        table.add_row(name, str(runs[name][0]), f"{value:.1f}", f"{1000 / value:.1f}")
    ratio = fps["full pipeline"] / fps["decode + landmarks"]
    table.caption = f"model: {model_line}; full / (decode + landmarks) = {ratio:.2f}"
    Console().print(table)


def peak_rss_child(video: Path, model: Path, threads: int | None) -> None:
    """Run the full pipeline over ``video`` and print the process's peak RSS in MB."""
    from aunce_rt.detector import AUDetector

    with AUDetector(model, providers="auto", max_faces=1, num_threads=threads) as det:
        n = sum(1 for _ in det.stream(video))
    print(f"{n} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")


def bench_memory(
    frames: list[np.ndarray], counts: list[int], model: Path, threads: int | None, workdir: Path
) -> None:
    rows = []
    for count in counts:
        video = write_video(workdir / f"loop_{count}.mp4", frames, count)
        cmd = [sys.executable, __file__, "--rss-child", str(video), "--model", str(model)]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
        rows.append((count, int(out[-2]), float(out[-1])))
        video.unlink()
    print("\npeak RSS of the full pipeline (fresh process per video)")
    print(f"{'frames':>8} {'analysed':>9} {'peak RSS MB':>12}")
    for count, n, rss in rows:
        print(f"{count:>8} {n:>9} {rss:>12.1f}")
    growth = rows[-1][2] - rows[0][2]
    verdict = "flat" if growth <= 50 else "GROWING"
    print(f"growth {rows[0][0]} -> {rows[-1][0]} frames: {growth:+.1f} MB ({verdict}; budget 50 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="exported .onnx (default: the bundled model)"
    )
    parser.add_argument("--frames", type=int, default=300, help="frames of the throughput video")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument(
        "--mem-frames", default="1000,10000", help="video lengths for the RSS test ('' skips)"
    )
    parser.add_argument("--rss-child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from aunce_rt.detector import default_model_path

    model = args.model or default_model_path()
    if args.rss_child is not None:
        peak_rss_child(args.rss_child, model, args.threads)
        return
    with tempfile.TemporaryDirectory(prefix="aunce_bench_") as tmp:
        workdir = Path(tmp)
        frames = _base_frames(args.frames, workdir)
        video = write_video(workdir / "bench.mp4", frames, args.frames)
        bench_throughput(video, model, args.threads)
        counts = [int(c) for c in args.mem_frames.split(",") if c.strip()]
        if counts:
            bench_memory(frames, counts, model, args.threads, workdir)


if __name__ == "__main__":
    main()
