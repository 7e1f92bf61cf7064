"""Benchmark SynthAU rendering speed on one core: full frames (256, 640x480) and aligned crops.

Random access (a new person almost every frame) and dataset order (each person's
samples together, as ``write_dataset`` and the training cache render them).

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/bench_synthau.py [--n 200]
"""

from __future__ import annotations

import argparse
import time

import cv2
from rich.console import Console
from rich.table import Table

from training.data.synthau import SynthAU


def _rate(fn, n: int) -> float:
    fn(0)  # warm-up
    t = time.perf_counter()
    for i in range(1, n + 1):
        fn(i)
    return n / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="frames per measurement")
    parser.add_argument("--identities", type=int, default=600, help="people in the split (cache pressure)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    table = Table(title=f"SynthAU frames/s (one core, n={args.n})")
    for col in ("what", "size", "frames/s"):
        table.add_column(col)
    small = SynthAU(seed=0, num_identities=args.identities)
    large = SynthAU(seed=0, num_identities=args.identities, frame_size=(640, 480))
    samples = {}

    def full_small(i: int) -> None:
        samples[i] = small.render_sample(i)

    table.add_row("full frame, random access", "256x256", f"{_rate(full_small, args.n):.1f}")
    table.add_row(
        "full frame", "640x480", f"{_rate(lambda i: large.render_sample(i), max(args.n // 2, 1)):.1f}"
    )
    # Writing a dataset renders each person's samples together (SynthAU.render_order),
    # so their head grid is built once: ~10 samples per person, like the recipe's data.
    grouped = SynthAU(seed=1, num_identities=args.identities)
    order = grouped.render_order(range(10 * args.identities))[: args.n + 1]
    table.add_row(
        "full frame, dataset order (10 per person)",
        "256x256",
        f"{_rate(lambda i: grouped.render_sample(order[i]), args.n):.1f}",
    )
    table.add_row(
        "aligned crop only", "256x256", f"{_rate(lambda i: small.aligned_crop(samples[i]), args.n):.1f}"
    )
    table.add_row(
        "frame + aligned crop",
        "256 -> 256",
        f"{_rate(lambda i: small.aligned_crop(small.render_sample(i)), args.n):.1f}",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
