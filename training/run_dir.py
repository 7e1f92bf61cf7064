"""A run's folder: resolved config, git revision, per-epoch metrics CSV, checkpoint and result paths.

::

    RUN/config.yaml          resolved config          RUN/git.txt    git revision
    RUN/metrics.csv          one row per epoch (stage, split, seed, epoch, values)
    RUN/checkpoints/<unit>/  warmup.pt, pretrain.pt (resumable), model.pt (final model)
    RUN/results/<unit>.json  test metrics of one split and seed
    RUN/report.md, RUN/report.json       mean and std over folds and seeds

Example:
    >>> run = RunDir("runs/demo", load_config("synthau_test"))  # doctest: +SKIP
    >>> run.log_metrics({"stage": "pretrain", "split": "fold1", "seed": 0, "epoch": 1, "loss": 0.5})  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aunce_rt.errors import InputError, OutputError
from aunce_rt.provenance import git_revision
from aunce_rt.training.config import ExperimentConfig, load_config, read_yaml, save_config, to_dict

logger = logging.getLogger(__name__)

__all__ = ["METRIC_FIELDS", "RunDir"]

METRIC_FIELDS = ("stage", "split", "seed", "epoch", "loss", "val_f1", "test_f1", "seconds", "frames_per_s")


class RunDir:
    """A run's folder: config, git revision, metrics CSV, checkpoints, results, report.

    Args:
        path: the folder (created). An existing folder with a config.yaml is only
            reused with ``resume=True``.
        cfg: the resolved config (written to config.yaml on creation).
        resume: continue the run in ``path`` (with its saved config).
        write: False on torchrun processes other than the main one (nothing written).
    """

    def __init__(self, path: str | Path, cfg: ExperimentConfig, *, resume: bool = False, write: bool = True):
        self.path = Path(path)
        self.cfg = cfg
        self.write = write
        cfg_file = self.path / "config.yaml"
        if cfg_file.is_file() and not resume and write:
            raise OutputError(
                f"run folder {self.path} already holds a run; pass --resume to continue it or choose another --out"
            )
        if resume and not cfg_file.is_file():
            raise InputError(f"cannot resume: {self.path} holds no run (no config.yaml)")
        if resume:
            saved = load_config(data=read_yaml(cfg_file))
            if to_dict(saved) != to_dict(cfg):
                logger.warning("resuming %s with its saved config (the given config differs)", self.path)
            self.cfg = saved
        if write:
            try:
                (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
                (self.path / "results").mkdir(exist_ok=True)
            except OSError as exc:
                raise OutputError(
                    f"cannot create run folder {self.path} ({exc}); choose a writable --out"
                ) from None
            if not resume:
                save_config(self.cfg, cfg_file)
                (self.path / "git.txt").write_text((git_revision() or "unknown") + "\n")
        self._tb = _tensorboard(self.path) if write else None

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.csv"

    def unit_dir(self, unit: str) -> Path:
        return self.path / "checkpoints" / unit

    def result_file(self, unit: str) -> Path:
        return self.path / "results" / f"{unit}.json"

    def log_metrics(self, row: Mapping[str, Any]) -> None:
        """Append one epoch row to metrics.csv (and TensorBoard when installed)."""
        if not self.write:
            return
        new = not self.metrics_file.is_file()
        with self.metrics_file.open("a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=METRIC_FIELDS, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: row.get(k, "") for k in METRIC_FIELDS})
        if self._tb is not None:
            tag = f"{row['split']}/seed{row['seed']}/{row['stage']}"
            for key in ("loss", "val_f1", "test_f1", "frames_per_s"):
                if row.get(key) not in (None, ""):
                    self._tb.add_scalar(f"{tag}/{key}", float(row[key]), int(row["epoch"]))

    def truncate_metrics(self, unit_split: str, seed: int, stage: str, after_epoch: int) -> None:
        """Drop metric rows of a stage past ``after_epoch`` (written before a crash, redone on resume)."""
        if not self.metrics_file.is_file():
            return
        with self.metrics_file.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        keep = [
            r
            for r in rows
            if not (
                r["split"] == unit_split
                and r["seed"] == str(seed)
                and r["stage"] == stage
                and int(r["epoch"]) > after_epoch
            )
        ]
        if len(keep) != len(rows):
            tmp = self.metrics_file.with_suffix(".tmp")
            with tmp.open("w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=METRIC_FIELDS)
                w.writeheader()
                w.writerows(keep)
            os.replace(tmp, self.metrics_file)


def _tensorboard(path: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional (not installed here)
        return None
    return SummaryWriter(str(path / "tensorboard"))
