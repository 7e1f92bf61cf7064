"""The experiment runner: every split and seed of a config, warm-up -> pretraining -> linear eval.

Every run writes to its own folder (``aunce_rt.training.run_dir.RunDir``). A "unit"
is one split (fold) and one seed. Its training states are checkpointed atomically
(``aunce_rt.training.checkpoints``) every ``checkpoint_every`` epochs, so a run
killed at any moment (SIGKILL included) resumes with ``resume=True`` from its last
checkpoint and, on CPU with a fixed seed, ends with the same metrics as an
uninterrupted run: the RNG states (torch, numpy, python, the loader and
loss-sampling generators) travel in the checkpoint, and a finished unit's result
file is never recomputed. The stages are ``aunce_rt.training.stages``; under
torchrun they run in every process, and only the main one writes.

Example:
    >>> result = run_experiment(load_config("synthau_test"), "runs/demo")  # doctest: +SKIP
    >>> result.report["f1_macro"]["mean"]                                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aunce_rt.datasets.protocol import Protocol, Split, holdout_subjects
from aunce_rt.errors import InputError
from aunce_rt.provenance import git_revision, jsonable
from aunce_rt.training import clp_stage as _clp
from aunce_rt.training import stages as _stages
from aunce_rt.training.callbacks import TrainCallbacks
from aunce_rt.training.checkpoints import atomic_save, read_checkpoint, save_train_state, train_state_of
from aunce_rt.training.config import ExperimentConfig, to_dict
from aunce_rt.training.data.dataset import AUDataset
from aunce_rt.training.distributed import DistContext, amp_dtype, cleanup, init_distributed
from aunce_rt.training.evaluate import evaluate_model
from aunce_rt.training.evaluate import test_metrics_by_kind as _test_by_kind
from aunce_rt.training.run_dir import METRIC_FIELDS, RunDir
from aunce_rt.training.stages import loss_kwargs
from aunce_rt.training.train_state import TrainState

logger = logging.getLogger(__name__)

__all__ = [
    "METRIC_FIELDS",
    "STAGES",
    "RunDir",
    "RunResult",
    "UnitResult",
    "atomic_save",
    "evaluate_model",
    "git_revision",
    "loss_kwargs",
    "make_encoder",
    "read_checkpoint",
    "run_experiment",
    "run_unit",
]

STAGES = ("pretrain", "linear")


@dataclass(frozen=True)
class UnitResult:
    """Metrics of one split and seed (JSON-able ``metrics``)."""

    split: str
    seed: int
    metrics: dict[str, Any]


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_experiment` returns: the folder, per-unit results, the aggregated report."""

    path: Path
    units: tuple[UnitResult, ...]
    report: dict[str, Any]


def make_encoder(cfg: ExperimentConfig, num_aus: int) -> torch.nn.Module:
    """The encoder of the config (random init unless ``model.init_weights``)."""
    return _stages.make_encoder(cfg.model, num_aus)


@dataclass
class _EpochRecorder:
    """After each epoch of a training stage: a metrics row, and (main process) a train-state checkpoint."""

    run: RunDir
    ctx: DistContext
    stage: str
    epochs: int
    path: Path
    split: str
    seed: int
    frames: int
    au_codes: tuple[int, ...]
    extra: dict[str, Any]
    every: int
    after_checkpoint: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        self._last = time.perf_counter()  # the stage's clock starts when its recorder is made

    def __call__(self, state: TrainState) -> None:
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        frames = self.frames * state.views
        self.run.log_metrics(
            {
                "stage": self.stage,
                "split": self.split,
                "seed": self.seed,
                "epoch": state.epoch,
                "loss": f"{state.history[-1]:.6f}",
                "seconds": f"{seconds:.3f}",
                "frames_per_s": f"{frames / max(seconds, 1e-9):.2f}",
            }
        )
        final = state.epoch >= self.epochs
        if self.ctx.is_main and (state.epoch % max(self.every, 1) == 0 or final):
            save_train_state(
                self.path, state, au_codes=self.au_codes, extra={**self.extra, "stage": self.stage}
            )
            if self.after_checkpoint is not None:
                self.after_checkpoint(state.epoch)


def run_unit(
    cfg: ExperimentConfig,
    protocol: Protocol,
    split: Split,
    seed: int,
    run: RunDir,
    *,
    ctx: DistContext | None = None,
    callbacks: TrainCallbacks | None = None,
    after_checkpoint: Callable[[int], None] | None = None,
    stages: tuple[str, ...] = STAGES,
) -> UnitResult | None:
    """Warm up (optionally), pretrain, then linear-evaluate one split with one seed, resuming.

    Args:
        callbacks: progress hooks of every stage (the CLI's progress bars).
        after_checkpoint: called with the epoch after each checkpoint is on disk (tests).
        stages: ("pretrain",) stops after pretraining (returns None); ("linear",)
            needs a finished pretraining checkpoint; both by default.
    """
    unit = f"{split.name}-seed{seed}"
    result_file = run.result_file(unit)
    if result_file.is_file():
        logger.info("%s already finished; reading %s", unit, result_file)
        return UnitResult(split.name, seed, json.loads(result_file.read_text()))
    ctx = ctx or DistContext()
    device = ctx.device
    train_idx, val_idx = (
        holdout_subjects(split.train, cfg.data.val_fraction, seed)
        if cfg.selection == "val" and cfg.data.val_fraction > 0
        else (split.train, None)
    )
    crop, cache = cfg.data.crop_size, cfg.data.cache
    train_ds, test_ds = AUDataset(train_idx, crop, cache=cache), AUDataset(split.test, crop, cache=cache)
    val_ds = AUDataset(val_idx, crop, cache=cache) if val_idx is not None else test_ds
    extra = {
        "protocol": protocol.name,
        "split": split.name,
        "seed": seed,
        "config": to_dict(cfg),
        "git_revision": git_revision() or "unknown",
    }
    ckpt = run.unit_dir(unit) / "pretrain.pt"
    resume_state = None
    if ckpt.is_file():
        payload = read_checkpoint(ckpt)
        resume_state = train_state_of(payload)
        logger.info("resuming %s from epoch %d (%s)", unit, payload["epoch"], ckpt)
        run.truncate_metrics(split.name, seed, "pretrain", int(payload["epoch"]))
    if "pretrain" not in stages and (resume_state is None or resume_state["epoch"] < cfg.pretrain.epochs):
        raise InputError(
            f"{unit} has no finished pretraining checkpoint in {run.path}; run `aunce-rt train pretrain` first"
        )
    run.truncate_metrics(split.name, seed, "linear", 0)
    clp = cfg.method == "clp"  # CLP as reconstructed here: pretrain on face-video clips, probe on data
    pretrain_ds = train_ds
    if clp:
        with ctx.main_first():  # the main process extracts the face tracks; the others then read them
            pretrain_ds = _clp.clip_dataset(cfg.clp, cfg.data, cache=run.path / "cache", seed=seed)
    frames = len(pretrain_ds) * (cfg.clp.clip_len if clp else 1)
    encoder = _clp.make_clp_objective(cfg.clp) if clp else make_encoder(cfg, len(protocol.au_codes))
    dtype = amp_dtype(device, cfg.amp)
    # channels_last pays on CUDA and under CPU bf16 autocast (oneDNN); a float32 CPU
    # run keeps the default layout, so its numbers do not change with this option.
    if cfg.channels_last and (device.type == "cuda" or dtype is not None):
        encoder = encoder.to(memory_format=torch.channels_last)

    def recorder(stage: str, epochs: int, path: Path) -> _EpochRecorder:
        return _EpochRecorder(
            run, ctx, stage, epochs, path, split.name, seed, frames, protocol.au_codes, extra,
            cfg.checkpoint_every, after_checkpoint,
        )  # fmt: skip

    if cfg.warmup.epochs > 0 and resume_state is None:
        warm = run.unit_dir(unit) / "warmup.pt"
        _stages.warm_up_backbone(
            encoder,
            train_ds,
            cfg.warmup,
            cfg.data,
            ckpt=warm,
            seed=seed,
            device=device,
            on_epoch_end=recorder("warmup", cfg.warmup.epochs, warm),
            truncate=lambda e: run.truncate_metrics(split.name, seed, "warmup", e),
            amp=dtype,
            callbacks=callbacks,
        )
    on_epoch_end = recorder("pretrain", cfg.pretrain.epochs, ckpt)  # its clock starts after the warm-up
    start = time.perf_counter()
    hooks = {"resume": resume_state, "on_epoch_end": on_epoch_end, "amp": dtype, "callbacks": callbacks}
    pre = (
        _clp.pretrain_clp(encoder, pretrain_ds, cfg.pretrain, seed=seed, ctx=ctx, **hooks)
        if clp
        else _stages.pretrain_encoder(
            encoder, train_ds, cfg.pretrain, cfg.loss, cfg.data, seed=seed, ctx=ctx, **hooks
        )
    )
    pretrain_seconds = time.perf_counter() - start
    if "linear" not in stages:
        return None
    lin = _stages.fit_linear_probe(
        _clp.probe_encoder(pre.encoder, len(protocol.au_codes), cfg.clp.probe_feature)
        if clp
        else pre.encoder,
        train_ds,
        val_ds,
        test_ds,
        cfg.linear,
        cfg.data,
        seed=seed,
        device=device,
        callbacks=callbacks,
    )
    for e, (loss, v, t) in enumerate(zip(lin.train_loss, lin.val_f1, lin.test_f1, strict=True), start=1):
        run.log_metrics(
            {
                "stage": "linear",
                "split": split.name,
                "seed": seed,
                "epoch": e,
                "loss": f"{loss:.6f}",
                "val_f1": f"{v:.6f}",
                "test_f1": f"{t:.6f}",
            }
        )
    selection = (
        "validation subjects held out from training"
        if val_idx is not None
        else "best epoch on the test split"
    )
    metrics = {
        "split": split.name,
        "seed": seed,
        "au_codes": list(protocol.au_codes),
        "selection": selection,
        "selected_epoch": lin.selected_epoch,
        "test": lin.test_metrics.to_dict(protocol.au_codes),
        "oracle_best_on_test_epoch": lin.oracle_test_epoch,
        "oracle_best_on_test_f1_macro": lin.oracle_test_f1,
        "pretrain_loss": list(pre.history),
        "pretrain_seconds": pretrain_seconds,
        "seconds_per_epoch": pretrain_seconds / max(cfg.pretrain.epochs, 1),
        "train_frames": len(train_ds),
        **({"method": "clp", "pretrain_clips": len(pretrain_ds)} if clp else {}),
        "test_frames": len(test_ds),
        **_test_by_kind(split, test_ds, lin.test_probs, protocol.au_codes),
    }
    if ctx.is_main:  # a CLP model's encoder is a CLPEncoder (encoder_config["arch"] == "clp")
        from aunce_rt.models import save_model

        save_model(
            run.unit_dir(unit) / "model.pt",
            lin.model,
            au_codes=protocol.au_codes,
            extra={**extra, "stage": "linear", "metrics": metrics["test"]},
        )
    if ctx.is_main:
        tmp = result_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(jsonable(metrics), indent=2))
        os.replace(tmp, result_file)
    return UnitResult(split.name, seed, metrics)


def run_experiment(
    cfg: ExperimentConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    callbacks: TrainCallbacks | None = None,
    after_checkpoint: Callable[[int], None] | None = None,
    stages: tuple[str, ...] = STAGES,
) -> RunResult:
    """Run every selected split and seed of ``cfg`` into a run folder and write the report.

    Args:
        cfg: the experiment.
        out: the run folder (default ``<cfg.out_dir>/<cfg.name>``).
        resume: continue the run already in ``out``.
        callbacks: progress hooks of every training stage (the CLI's progress bars).
        after_checkpoint: test hook, called after each pretraining checkpoint.
        stages: the stages to run (see :func:`run_unit`); the report needs "linear".

    Under torchrun the process group this call creates is destroyed when it returns
    or fails (one made by the caller is left alone).
    """
    owns_group = not (torch.distributed.is_available() and torch.distributed.is_initialized())
    ctx = init_distributed(cfg.device)
    try:
        return _run_units(cfg, out, ctx, resume, callbacks, after_checkpoint, stages)
    finally:
        if owns_group and ctx.distributed:
            cleanup()  # before exit: gloo/NCCL threads must not outlive the interpreter


def _run_units(
    cfg: ExperimentConfig,
    out: str | Path | None,
    ctx: DistContext,
    resume: bool,
    callbacks: TrainCallbacks | None,
    after_checkpoint: Callable[[int], None] | None,
    stages: tuple[str, ...],
) -> RunResult:
    """:func:`run_experiment`'s body, in an initialised process context."""
    from aunce_rt.evaluation.report import write_report
    from aunce_rt.training.data.benchmarks import build_splits
    from aunce_rt.training.rng import seed_everything

    amp_dtype(ctx.device, cfg.amp)  # a precision this device cannot run fails before any folder is made
    path = Path(out) if out is not None else Path(cfg.out_dir) / cfg.name
    run = RunDir(path, cfg, resume=resume, write=ctx.is_main)
    cfg = run.cfg
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    units = []
    for seed in cfg.run_seeds:
        seed_everything(seed)
        with ctx.main_first():  # the main process renders/reads caches first
            protocol, splits = build_splits(cfg.data, cache_dir=path / "cache", seed=seed)
        for split in splits:
            unit = run_unit(
                cfg,
                protocol,
                split,
                seed,
                run,
                ctx=ctx,
                callbacks=callbacks,
                after_checkpoint=after_checkpoint,
                stages=stages,
            )
            if unit is not None:
                units.append(unit)
    report = write_report(path, to_dict(cfg), [u.metrics for u in units]) if ctx.is_main and units else {}
    return RunResult(path, tuple(units), report)
