"""Probe (issue 19): does undoing the ridge head's shrinkage lift intensity ICC, and at what cost?

ICC(3,1) of two raters is ``2 cov / (var_a + var_b)``: a head whose outputs have less spread
than the truth (ridge regression shrinks towards the mean) loses ICC even where it correlates
well. This refits nothing: it takes the recipe's intensity head (``recipe_intensity`` on the
recipe's cached features, ``--cache``), fits a per-AU rescaling on the EVEN held-out SynthAU
people (spread matched to the truth's), scores the ODD people, and reads the mean output on
the neutral CC BY photos (what a real neutral face gets; the shipped head gives 0.62).
Nothing is shipped from it.

    .venv/bin/python bench/probe_intensity_scale.py --cache runs/real-faces/cache
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> int:
    from aunce_rt.evaluation.intensity import intensity_metrics
    from aunce_rt.pipelines._geometry_data import synth_features
    from aunce_rt.pipelines._geometry_fit import mirror_permutation
    from aunce_rt.pipelines._intensity_fit import SCALE, _people, recipe_intensity, synth_intensities

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="the real-face recipe's feature cache")
    args = ap.parse_args()
    synth = synth_features(args.cache, seed=0, split="train", n=4000, appearance_model=None)
    held = synth_features(args.cache, seed=0, split="test", n=1000, appearance_model=None)
    real = dict(np.load(args.cache / "real_stride1.npz", allow_pickle=True))
    perm = mirror_permutation(synth["landmarks"][synth["found"].astype(bool)].mean(0))
    head = recipe_intensity(synth, real, held, perm, seeds=(0, 0)).head
    even, odd = _people(held, True), _people(held, False)
    p_even, p_odd = head.logits(held["landmarks"][even]), head.logits(held["landmarks"][odd])
    t_even = synth_intensities(held["index"][even], seed=0, split="test")
    t_odd = synth_intensities(held["index"][odd], seed=0, split="test")
    names = np.array([str(n) for n in real["names"]])
    neutral = real["found"].astype(bool) & np.char.startswith(names, "neutral/")
    p_neutral = head.logits(real["landmarks"][neutral])
    b = t_even.std(0) / p_even.std(0)
    a = t_even.mean(0) - b * p_even.mean(0)
    n0 = p_neutral.mean(0)
    variants = {
        "the shipped head": lambda p: p,
        "x b (spread matched on even people)": lambda p: b * p,
        "a + b x (spread and mean matched)": lambda p: a + b * p,
        "scaled by b about the neutral real faces' mean": lambda p: n0 + b * (p - n0),
    }
    print("| variant | ICC(3,1), odd people | mean on neutral real photos |")
    print("|---|---:|---:|")
    for name, f in variants.items():
        icc = intensity_metrics(np.clip(f(p_odd), 0, SCALE), t_odd, tuple(range(len(b)))).mean_icc
        print(f"| {name} | {icc:.3f} | {np.clip(f(p_neutral), 0, SCALE).mean():.2f} |")
    print(f"\nb per AU: {', '.join(f'{v:.2f}' for v in b)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
