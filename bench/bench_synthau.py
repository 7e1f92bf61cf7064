"""Benchmark SynthAU rendering speed on one core: full frames (256, 640x480) and aligned crops.

Random access (a new person almost every frame) and dataset order (each person's
samples together, as ``write_dataset`` and the training cache render them).

Run: .venv/bin/python bench/bench_synthau.py [--n 200]   (pins itself to one core's worth of threads)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: numpy's BLAS too (set before numpy loads)

import cv2  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from aunce_rt.synthau import SynthAU  # noqa: E402


def _clear_caches() -> None:
    """Forget every person built so far (random access means a new person almost every frame)."""
    from aunce_rt.synthau._identity import make_identity
    from aunce_rt.synthau._render import _head_grid

    make_identity.cache_clear()
    _head_grid.cache_clear()


def _rates(fn, indices: list[int], rounds: int) -> str:
    """frames/s of ``fn`` over ``rounds`` consecutive slices of ``indices``: median (min-max).

    Each round starts from cold caches and its own samples, so rounds measure the same
    thing; the median keeps a burst of load from other processes out of the figure.
    """
    n = len(indices) // rounds
    rates = []
    for r in range(rounds):
        part = indices[r * n : (r + 1) * n]
        _clear_caches()
        fn(part[0])  # warm-up (imports, first allocations)
        t = time.perf_counter()
        for i in part[1:]:
            fn(i)
        rates.append((len(part) - 1) / (time.perf_counter() - t))
    rates.sort()
    return f"{statistics.median(rates):.1f} ({rates[0]:.1f}-{rates[-1]:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="frames per measurement round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per row (median reported)")
    parser.add_argument("--identities", type=int, default=600, help="people in the split (cache pressure)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    table = Table(title=f"SynthAU frames/s, one core: median (min-max) of {args.rounds} rounds of {args.n}")
    for col in ("what", "size", "frames/s"):
        table.add_column(col)
    small = SynthAU(seed=0, num_identities=args.identities)
    large = SynthAU(seed=0, num_identities=args.identities, frame_size=(640, 480))
    total = args.n * args.rounds
    randomly = list(range(total))
    # Writing a dataset renders each person's samples together (SynthAU.render_order),
    # so their head grid is built once: ~10 samples per person, like the recipe's data.
    grouped = SynthAU(seed=1, num_identities=max(args.identities, total // 10))
    in_order = grouped.render_order(range(10 * max(args.identities, total // 10)))[:total]
    table.add_row("full frame, random access", "256x256", _rates(small.render_sample, randomly, args.rounds))
    table.add_row(
        "full frame, random access",
        "640x480",
        _rates(large.render_sample, randomly[: total // 2], args.rounds),
    )
    table.add_row(
        "full frame, dataset order (10 per person)",
        "256x256",
        _rates(grouped.render_sample, in_order, args.rounds),
    )
    sample = small.render_sample(0)
    table.add_row(
        "aligned crop only", "256x256", _rates(lambda i: small.aligned_crop(sample), randomly, args.rounds)
    )
    table.add_row(
        "frame + aligned crop, dataset order",
        "256 -> 256",
        _rates(lambda i: grouped.aligned_crop(grouped.render_sample(i)), in_order, args.rounds),
    )
    Console().print(table)


if __name__ == "__main__":
    main()
