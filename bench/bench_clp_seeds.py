"""Issue 17: CLP (as reconstructed here) vs the same network at random init, over seeds, on SynthAU.

For each seed, ``exp_clp_synthau.clp_vs_random`` runs ``method: clp`` (config
``clp_synthau_tiny``: unlabelled SynthAU videos of people the probe never sees -> face
tracks -> clips -> CLP pretraining), then fits the same linear probe (same splits,
epochs, selection on validation subjects) on r of the CLP network and of the same
network at its random initialisation. Equal probe, equal data; the gap is what the
pretraining bought. Runs are resumable (each seed's folder under ``--out``).

    .venv/bin/python bench/bench_clp_seeds.py --seeds 1 2 3 --out runs/clp_seeds [--set clp.cir=false]

Writes ``--report`` (default bench/clp_synthau_seeds.md): per-seed F1 and the mean ± std.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from exp_clp_synthau import clp_vs_random  # noqa: E402


def _mean_std(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else float("nan")
    return f"{100 * statistics.mean(xs):.1f} ± {100 * sd:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="clp_synthau_tiny")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "clp_seeds")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    ap.add_argument("--report", type=Path, default=ROOT / "bench" / "clp_synthau_seeds.md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    start = time.perf_counter()
    rows = []
    for seed in args.seeds:
        rows.append(clp_vs_random(args.config, [*args.overrides, f"seed={seed}"], args.out / f"seed{seed}"))
    clp = [r["clp_test_f1_macro"] for r in rows]
    rnd = [r["random_init_test_f1_macro"] for r in rows]
    gap = [c - r for c, r in zip(clp, rnd, strict=True)]
    lines = [
        "# CLP (as reconstructed here) vs random init on SynthAU, over seeds",
        "",
        f"Produced by `python bench/bench_clp_seeds.py --seeds {' '.join(map(str, args.seeds))}"
        + "".join(f" --set {o}" for o in args.overrides)
        + f"` (config `{args.config}`), {time.perf_counter() - start:.0f} s in this call "
        "(finished seeds are read back).",
        "",
        "Linear-probe F1-macro (%) on SynthAU test people, the probe's epoch chosen on validation "
        "people; the CLP network pretrained on unlabelled SynthAU video of other people vs the same "
        "network at its random initialisation.",
        "",
        "| seed | CLP | random init | CLP - random | CLP loss per epoch | CLP run (s) |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for r, g in zip(rows, gap, strict=True):
        loss = ", ".join(f"{x:.2f}" for x in r["pretrain_loss"])
        lines.append(
            f"| {r['seed']} | {100 * r['clp_test_f1_macro']:.1f} | {100 * r['random_init_test_f1_macro']:.1f} "
            f"| {100 * g:+.1f} | {loss} | {r['clp_run_seconds']:.0f} |"
        )
    lines.append(f"| mean ± std | {_mean_std(clp)} | {_mean_std(rnd)} | {_mean_std(gap)} | | |")
    sd = statistics.stdev(gap) if len(gap) > 1 else float("nan")
    verdict = (
        "CLP is ahead by more than twice the seed std of the gap"
        if statistics.mean(gap) > 2 * sd
        else "the gap is within twice its seed std: no lift is shown"
    )
    lines += [
        "",
        f"Rule (set before the runs): a lift is called when mean gap > 2 x std of the gap. Here: {verdict}.",
    ]
    args.report.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
