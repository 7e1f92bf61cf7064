"""The AUNCE paper's claims tested on SynthAU (issue 21): run the study, render its report.

    python bench/bench_synthau_claims.py run      # runs unfinished cells (resumable, cached)
    python bench/bench_synthau_claims.py report   # markdown + plots from the finished cells

The grid (loss variants x label noise x imbalance x seeds) and the per-cell recipe
are ``training/configs/studies/claims_synthau.yaml``; the runner is
``aunce_rt.training.claims_study``, the verdict rules ``aunce_rt.training.claims_verdict``.
Cells accumulate under ``--out`` (default runs/claims, gitignored); stopping and
re-running ``run`` continues where it stopped. ``report`` marks itself PARTIAL
until every cell is filled.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aunce_rt.training.claims_study import load_study, results_from_file, run_study, write_results  # noqa: E402

log = logging.getLogger("bench_synthau_claims")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("run", "report"))
    ap.add_argument("--study", default="claims_synthau", help="study name or YAML path")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "claims", help="cells and caches")
    ap.add_argument("--max-cells", type=int, default=None, help="run: stop after this many new cells")
    ap.add_argument("--max-hours", type=float, default=None, help="run: stop starting cells after this")
    ap.add_argument(
        "--report",
        type=Path,
        default=None,
        help="report: markdown path (default bench/claims_synthau.md, or bench/claims_synthau_PARTIAL.md "
        "while cells are missing); plots go beside it",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    spec = load_study(args.study)
    if args.action == "run":
        secs = None if args.max_hours is None else 3600 * args.max_hours
        progress = run_study(spec, args.out, max_cells=args.max_cells, max_seconds=secs)
        log.info(
            "%d of %d cells finished (%d now, %.0f s)",
            progress.finished,
            progress.total,
            progress.ran_now,
            progress.seconds,
        )
        return 0
    from aunce_rt.training.claims_report import write_report

    results = results_from_file(write_results(args.out, spec))  # the grid's finished cells, in one file
    partial = len(results) < len(spec.cells())
    default = "claims_synthau_PARTIAL.md" if partial else "claims_synthau.md"
    path = write_report(spec, results, args.report or ROOT / "bench" / default, command=_command(args))
    print(path.read_text())
    log.info("wrote %s (%d of %d cells)", path, len(results), len(spec.cells()))
    return 0


def _command(args: argparse.Namespace) -> str:
    study = "" if args.study == "claims_synthau" else f" --study {args.study}"
    out = "" if args.out == ROOT / "runs" / "claims" else f" --out {args.out}"
    return f"python bench/bench_synthau_claims.py run{study}{out}"


if __name__ == "__main__":
    raise SystemExit(main())
