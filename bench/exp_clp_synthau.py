"""Issue 17 slice: CLP (as reconstructed here) on SynthAU video vs the same network at random init.

Runs ``method: clp`` (default config ``clp_synthau_tiny``: unlabelled SynthAU videos of
people the probe never sees -> face tracks through MediaPipe -> clips -> CLP), then fits
the SAME linear probe (same splits, seed, epochs and selection on validation subjects)
on r of the same network at its random initialisation, no pretraining step. The gap is
what the pretraining bought. One seed: a first look, not a study.

    .venv/bin/python bench/exp_clp_synthau.py --out /work/cache/clp_tiny [--set clp.cir=false ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="clp_synthau_tiny")
    ap.add_argument("--out", type=Path, required=True, help="run folder (resumed if it exists)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(json.dumps(clp_vs_random(args.config, args.overrides, args.out), indent=2))


def clp_vs_random(config: str, overrides: list[str], out: Path) -> dict:
    """One seed: the CLP run (resumed, or read back when finished) and the probe on the random init;
    writes and returns ``out/clp_vs_random.json``."""
    from aunce_rt.datasets.protocol import holdout_subjects
    from aunce_rt.training import clp_stage
    from aunce_rt.training.config import load_config
    from aunce_rt.training.data.benchmarks import build_splits
    from aunce_rt.training.data.dataset import AUDataset
    from aunce_rt.training.rng import seed_everything
    from aunce_rt.training.run import run_experiment
    from aunce_rt.training.stages import fit_linear_probe

    done = out / "clp_vs_random.json"
    if done.is_file():
        return json.loads(done.read_text())
    cfg = load_config(config, overrides)
    t0 = time.perf_counter()
    result = run_experiment(cfg, out, resume=out.exists())
    clp_seconds = time.perf_counter() - t0
    (unit,) = result.units
    clp = unit.metrics

    seed = cfg.seed
    seed_everything(seed)
    protocol, splits = build_splits(cfg.data, cache_dir=out / "cache", seed=seed)
    (split,) = splits
    train_idx, val_idx = holdout_subjects(split.train, cfg.data.val_fraction, seed)
    crop = cfg.data.crop_size
    train_ds, val_ds, test_ds = (AUDataset(i, crop) for i in (train_idx, val_idx, split.test))
    seed_everything(seed)
    net = clp_stage.make_clp_objective(cfg.clp).net  # random init, no pretraining step
    lin = fit_linear_probe(
        clp_stage.probe_encoder(net, len(protocol.au_codes)),
        train_ds,
        val_ds,
        test_ds,
        cfg.linear,
        cfg.data,
        seed=seed,
        device=torch.device("cpu"),
    )
    summary = {
        "config": config,
        "overrides": overrides,
        "seed": seed,
        "pretrain_clips_per_epoch": clp["pretrain_clips"],
        "pretrain_epochs": cfg.pretrain.epochs,
        "pretrain_loss": clp["pretrain_loss"],
        "probe_epochs": cfg.linear.epochs,
        "clp_test_f1_macro": clp["test"]["f1_macro"],
        "random_init_test_f1_macro": lin.test_metrics.f1_macro,
        "clp_selected_epoch": clp["selected_epoch"],
        "random_selected_epoch": lin.selected_epoch,
        "clp_run_seconds": round(clp_seconds, 1),
    }
    done.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
