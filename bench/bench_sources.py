"""Overhead of aunce_rt.sources over a bare cv2.VideoCapture loop, on one video.

Usage: python bench/bench_sources.py [VIDEO] [--repeat N]
Prints frames/s of a bare ``cap.read()`` loop and of ``open_source`` iteration.
With a consumer that does work (``--work-ms``), the threaded prefetch overlaps
decoding with that work, so the source adds no time beyond the decode itself.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

from aunce_rt.sources import open_source

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "openface_default.wmv"


def _bare(path: Path, work_s: float) -> tuple[int, float]:
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
        if work_s:
            time.sleep(work_s)
    cap.release()
    return n, time.perf_counter() - t0


def _source(path: Path, work_s: float) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = 0
    with open_source(path) as frames:
        for _ in frames:
            n += 1
            if work_s:
                time.sleep(work_s)
    return n, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("video", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-ms", type=float, default=0.0, help="simulated per-frame inference time")
    args = parser.parse_args()
    work_s = args.work_ms / 1000.0
    for label, fn in (("bare cv2 loop", _bare), ("open_source", _source)):
        best = min((fn(args.video, work_s) for _ in range(args.repeat)), key=lambda r: r[1])
        print(f"{label:14s} {best[0]} frames in {best[1]:.3f} s = {best[0] / best[1]:.1f} frames/s")


if __name__ == "__main__":
    main()
