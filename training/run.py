"""Run folders, atomic resumable checkpoints, and the pretrain -> linear-eval pipeline.

Every run writes to its own folder::

    RUN/config.yaml          resolved config          RUN/git.txt    git revision
    RUN/metrics.csv          one row per epoch (stage, split, seed, epoch, values)
    RUN/checkpoints/<unit>/pretrain.pt   resumable (weights + optimizer + epoch + RNG)
    RUN/checkpoints/<unit>/model.pt      final model (models.save_model format)
    RUN/results/<unit>.json  test metrics of one split and seed
    RUN/report.md, RUN/report.json       mean and std over folds and seeds

A "unit" is one split (fold) and one seed. Checkpoints are written atomically
(tmp file + os.replace) at every ``checkpoint_every`` epochs, so a run killed at
any moment (SIGKILL included) resumes with ``resume=True`` from its last
checkpoint and, on CPU with a fixed seed, ends with the same metrics as an
uninterrupted run: the RNG states (torch, numpy, python, the loader and
loss-sampling generators) travel in the checkpoint, and a finished unit's result
file is never recomputed.

Example:
    >>> result = run_experiment(load_config("synthau_test"), "runs/demo")  # doctest: +SKIP
    >>> result.report["f1_macro"]["mean"]                                 # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aunce_rt._version import __version__
from aunce_rt.datasets.protocol import Protocol, Split, holdout_subjects
from aunce_rt.errors import InputError, ModelError, OutputError
from aunce_rt.training.config import ExperimentConfig, load_config, save_config, to_dict
from aunce_rt.training.data.dataset import AUDataset
from aunce_rt.training.distributed import DistContext, amp_dtype, cleanup, init_distributed

logger = logging.getLogger(__name__)

STAGES = ("pretrain", "linear")
METRIC_FIELDS = ("stage", "split", "seed", "epoch", "loss", "val_f1", "test_f1", "seconds", "frames_per_s")


def git_revision(cwd: str | Path | None = None) -> str:
    """``git describe --always --dirty`` of the source tree, or "unknown" outside git."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=cwd or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def atomic_save(obj: Mapping[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        torch.save(dict(obj), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a run checkpoint with ``weights_only=True``; ModelError if unreadable."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(
            f"cannot read run checkpoint {path} ({type(exc).__name__}: {exc}); delete it to restart"
        ) from None
    if not isinstance(obj, dict) or "state_dict" not in obj or "epoch" not in obj:
        raise ModelError(
            f"{path} is not an aunce-rt run checkpoint (no state_dict/epoch); delete it to restart"
        )
    return obj


class RunDir:
    """A run's folder: config, git revision, metrics CSV, checkpoints, results, report.

    Args:
        path: the folder (created). An existing folder with a config.yaml is only
            reused with ``resume=True``.
        cfg: the resolved config (written to config.yaml on creation).
        resume: continue the run in ``path``.
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
            saved = load_config(data=_read_yaml(cfg_file))
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
                (self.path / "git.txt").write_text(git_revision() + "\n")
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


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text()) or {}


def _tensorboard(path: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional (not installed here)
        return None
    return SummaryWriter(str(path / "tensorboard"))


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


def loss_kwargs(cfg: ExperimentConfig, protocol: Protocol | None = None) -> dict[str, Any]:
    """Keyword arguments of the pretraining loss class from the config."""
    lc = cfg.loss
    if lc.name == "aunce":
        return {
            "temperature": lc.temperature,
            "probs": tuple(lc.probs),
            "num_positives": lc.num_positives,
            "beta_minority": lc.beta_minority,
            "beta_majority": lc.beta_majority,
            "minority": lc.minority,
            "au_weighted": lc.au_weighted,
        }
    if lc.name == "wfl":
        return {"gamma": lc.gamma}
    return {}


def make_encoder(cfg: ExperimentConfig, num_aus: int) -> torch.nn.Module:
    """The encoder of the config (random init unless ``model.init_weights``)."""
    from aunce_rt.models import create_encoder

    m = cfg.model
    return create_encoder(
        m.backbone,
        num_aus,
        node_dim=m.node_dim,
        top_k=m.top_k,
        init_weights=m.init_weights or None,
        dropout=m.dropout,
        input_norm=m.input_norm,
    )


def _checkpoint_payload(state: Any, cfg: ExperimentConfig, au_codes: tuple[int, ...], extra: dict) -> dict:
    """aunce_rt.models.save_model's format plus the TrainState's optimizer/epoch/RNG (one file)."""
    from aunce_rt.models.checkpoint import FORMAT, FORMAT_VERSION

    ts = state.state_dict()
    if any(k.startswith("module.") for k in ts["model"]):  # DDP-wrapped: store the bare module's keys
        ts["model"] = {k.removeprefix("module."): v for k, v in ts["model"].items()}
    model = state.model.module if hasattr(state.model, "module") else state.model
    encoder = model.encoder if hasattr(model, "encoder") else model
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "aunce_rt_version": __version__,
        "encoder_config": dict(encoder.config),
        "au_codes": list(au_codes),
        "thresholds": [0.5] * len(au_codes),
        "state_dict": ts.pop("model"),
        "extra": extra,
        **ts,
    }


def _train_state_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("loss_name", "optimizer", "epoch", "step", "history", "rng")
    return {"model": payload["state_dict"], **{k: payload[k] for k in keep if k in payload}}


def pretrain_distributed(
    encoder: torch.nn.Module,
    data: AUDataset,
    *,
    ctx: DistContext,
    loss: str,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
    loss_kwargs: Mapping[str, Any],
    device: torch.device,
    image_size: int,
    resize: int | None,
    num_workers: int,
    resume: Mapping[str, Any] | None,
    on_epoch_end: Callable[[Any], None],
    progress: bool = True,
    augment: str = "simclr",
    schedule: str = "constant",
    amp: torch.dtype | None = None,
) -> Any:
    """``aunce_rt.training.pretrain.pretrain`` across torchrun processes: DDP, a DistributedSampler, gathered negatives.

    ``batch_size`` is the GLOBAL batch: each of the W processes takes batch_size / W
    images, and AUNCE sees the gathered global batch (``TrainState.gather``). The
    training step itself is ``aunce_rt.training.pretrain.train_one_epoch``.
    """
    from torch.utils.data import DataLoader, DistributedSampler

    from aunce_rt.training.augment import TransformedDataset, train_transform
    from aunce_rt.training.distributed import wrap_ddp
    from aunce_rt.training.pretrain import PretrainResult, seed_everything, start_train_state, train_one_epoch

    if batch_size % ctx.world_size:
        raise InputError(
            f"pretrain.batch_size {batch_size} must be divisible by the {ctx.world_size} processes"
        )
    state = start_train_state(
        encoder,
        data.labels,
        loss=loss,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        loss_kwargs=loss_kwargs,
        device=device,
        resume=resume,
        schedule=schedule,
        amp=amp,
    )
    seed_everything(seed + 1000 * ctx.rank + state.epoch)  # distinct augmentations per process
    state.model = wrap_ddp(state.model, ctx)
    state.gather = ctx.gather
    views = TransformedDataset(
        data, train_transform(image_size, resize=resize, strength=augment), views=state.views
    )
    sampler = DistributedSampler(views, ctx.world_size, ctx.rank, shuffle=True, seed=seed, drop_last=True)
    loader = DataLoader(
        views,
        batch_size=batch_size // ctx.world_size,
        sampler=sampler,
        drop_last=True,
        num_workers=num_workers,
    )
    state.total_steps = epochs * len(loader)  # the schedule ends on this process's last step
    start = time.perf_counter()
    while state.epoch < epochs:
        sampler.set_epoch(state.epoch)
        train_one_epoch(state, loader, device=device)
        on_epoch_end(state)
    state.model = state.model.module
    state.model.eval()
    model = state.model if hasattr(state.model, "probe") else None
    enc = model.encoder if model is not None else state.model
    return PretrainResult(enc, model, loss, tuple(state.history), time.perf_counter() - start, state)


def run_unit(
    cfg: ExperimentConfig,
    protocol: Protocol,
    split: Split,
    seed: int,
    run: RunDir,
    *,
    ctx: DistContext | None = None,
    progress: bool = True,
    after_checkpoint: Callable[[int], None] | None = None,
    stages: tuple[str, ...] = STAGES,
) -> UnitResult | None:
    """Pretrain then linear-evaluate one split with one seed, resuming from its checkpoint.

    Args:
        after_checkpoint: called with the epoch after each checkpoint is on disk (tests).
        stages: ("pretrain",) stops after pretraining (returns None); ("linear",)
            needs a finished pretraining checkpoint; both by default.
    """
    from aunce_rt.training.linear_eval import linear_eval
    from aunce_rt.training.pretrain import pretrain

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
        "stage": "pretrain",
        "protocol": protocol.name,
        "split": split.name,
        "seed": seed,
        "config": to_dict(cfg),
        "git_revision": git_revision(),
    }
    ckpt = run.unit_dir(unit) / "pretrain.pt"
    resume_state = None
    if ckpt.is_file():
        payload = read_checkpoint(ckpt)
        resume_state = _train_state_of(payload)
        logger.info("resuming %s from epoch %d (%s)", unit, payload["epoch"], ckpt)
        run.truncate_metrics(split.name, seed, "pretrain", int(payload["epoch"]))
    if "pretrain" not in stages and (resume_state is None or resume_state["epoch"] < cfg.pretrain.epochs):
        raise InputError(
            f"{unit} has no finished pretraining checkpoint in {run.path}; run `aunce-rt train pretrain` first"
        )
    run.truncate_metrics(split.name, seed, "linear", 0)
    encoder = make_encoder(cfg, len(protocol.au_codes))
    dtype = amp_dtype(device, cfg.amp)
    # channels_last pays on CUDA and under CPU bf16 autocast (oneDNN); a float32 CPU
    # run keeps the default layout, so its numbers do not change with this option.
    if cfg.channels_last and (device.type == "cuda" or dtype is not None):
        encoder = encoder.to(memory_format=torch.channels_last)

    def epoch_logger(stage: str, stage_epochs: int, path: Path) -> Callable[[Any], None]:
        """Log one metrics row per epoch of ``stage`` and checkpoint it to ``path``."""
        last_time = [time.perf_counter()]

        def on_epoch_end(state: Any) -> None:
            now = time.perf_counter()
            seconds = now - last_time[0]
            last_time[0] = now
            frames = len(train_ds) * (2 if state.loss_name == "aunce" else 1)
            run.log_metrics(
                {
                    "stage": stage,
                    "split": split.name,
                    "seed": seed,
                    "epoch": state.epoch,
                    "loss": f"{state.history[-1]:.6f}",
                    "seconds": f"{seconds:.3f}",
                    "frames_per_s": f"{frames / max(seconds, 1e-9):.2f}",
                }
            )
            final = state.epoch >= stage_epochs
            if ctx.is_main and (state.epoch % max(cfg.checkpoint_every, 1) == 0 or final):
                atomic_save(
                    _checkpoint_payload(state, cfg, protocol.au_codes, {**extra, "stage": stage}), path
                )
                if after_checkpoint is not None:
                    after_checkpoint(state.epoch)

        return on_epoch_end

    if cfg.warmup.epochs > 0 and resume_state is None:
        warm_up_backbone(
            cfg,
            encoder,
            train_ds,
            run.unit_dir(unit) / "warmup.pt",
            seed=seed,
            device=device,
            progress=progress,
            on_epoch_end_for=epoch_logger,
            truncate=lambda e: run.truncate_metrics(split.name, seed, "warmup", e),
            amp=dtype,
        )
    on_epoch_end = epoch_logger("pretrain", cfg.pretrain.epochs, ckpt)  # its clock starts after the warm-up

    start = time.perf_counter()
    train_fn = pretrain if not ctx.distributed else partial(pretrain_distributed, ctx=ctx)
    pre = train_fn(
        encoder,
        train_ds,
        loss=cfg.loss.name,
        schedule=cfg.pretrain.schedule,
        epochs=max(cfg.pretrain.epochs, 1),
        lr=cfg.pretrain.lr,
        weight_decay=cfg.pretrain.weight_decay,
        batch_size=cfg.pretrain.batch_size,
        seed=seed,
        loss_kwargs=loss_kwargs(cfg, protocol),
        device=device,
        image_size=cfg.data.image_size,
        resize=crop,
        num_workers=cfg.data.num_workers,
        augment=cfg.data.augment,
        resume=resume_state,
        on_epoch_end=on_epoch_end,
        progress=progress,
        amp=dtype,
    )
    pretrain_seconds = time.perf_counter() - start
    if "linear" not in stages:
        return None
    lin = linear_eval(
        pre.encoder,
        train_ds,
        val_ds,
        test_ds,
        epochs=cfg.linear.epochs,
        lr=cfg.linear.lr,
        weight_decay=cfg.linear.weight_decay,
        batch_size=cfg.linear.batch_size,
        seed=seed,
        device=device,
        image_size=cfg.data.image_size,
        resize=crop,
        progress=progress,
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
        "test_frames": len(test_ds),
        **_test_by_kind(split, test_ds, lin.test_probs, protocol.au_codes),
    }
    if ctx.is_main:
        from aunce_rt.models import save_model

        save_model(
            run.unit_dir(unit) / "model.pt",
            lin.model,
            au_codes=protocol.au_codes,
            extra={**extra, "stage": "linear", "metrics": metrics["test"]},
        )
        tmp = result_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(metrics, indent=2, default=_json_default))
        os.replace(tmp, result_file)
    return UnitResult(split.name, seed, metrics)


def _test_by_kind(
    split: Split, test_ds: AUDataset, probs: np.ndarray | None, au_codes: tuple[int, ...]
) -> dict[str, Any]:
    """Test metrics of static samples and of video frames apart, when the test split mixes them.

    SynthAU test folds hold frames of rendered clips (``data.synth_video_frames``)
    beside the static samples; ``test`` scores both together, these keys each.
    Empty for a split without video frames.
    """
    from aunce_rt.datasets.synth_source import is_video_crop
    from aunce_rt.evaluation.metrics import au_metrics

    video = np.array([is_video_crop(p) for p in split.test.paths], dtype=bool)
    if probs is None or not video.any() or video.all():
        return {}
    labels = np.asarray(test_ds.labels)
    return {
        "test_static": au_metrics(probs[~video], labels[~video]).to_dict(au_codes)
        | {"frames": int((~video).sum())},
        "test_video_frames": au_metrics(probs[video], labels[video]).to_dict(au_codes)
        | {"frames": int(video.sum())},
    }


def warm_up_backbone(
    cfg: ExperimentConfig,
    encoder: torch.nn.Module,
    train_ds: AUDataset,
    ckpt: Path,
    *,
    seed: int,
    device: torch.device,
    progress: bool,
    on_epoch_end_for: Callable[[str, int, Path], Callable[[Any], None]],
    truncate: Callable[[int], None],
    amp: torch.dtype | None = None,
) -> None:
    """The warm-up stage: train ``encoder``'s backbone in place with WCE on its pooled tokens.

    Resumes from ``ckpt`` (a finished one just restores the weights). Under torchrun
    every process runs it alike on the whole split (same seed, same weights). The stand-in for
    ImageNet weights, see ``ExperimentConfig``; the per-AU blocks and graph layer are
    left at their initialisation for the pretraining stage.
    """
    from aunce_rt.training.pretrain import pretrain

    resume = None
    if ckpt.is_file():
        payload = read_checkpoint(ckpt)
        resume = _train_state_of(payload)
        truncate(int(payload["epoch"]))
        logger.info("resuming the backbone warm-up from epoch %d (%s)", payload["epoch"], ckpt)
    w = cfg.warmup
    pretrain(
        encoder,
        train_ds,
        loss="wce",
        head="pooled",
        schedule=w.schedule,
        epochs=w.epochs,
        lr=w.lr,
        weight_decay=w.weight_decay,
        batch_size=w.batch_size,
        seed=seed,
        device=device,
        image_size=cfg.data.image_size,
        resize=cfg.data.crop_size,
        num_workers=cfg.data.num_workers,
        augment=cfg.data.augment,
        resume=resume,
        on_epoch_end=on_epoch_end_for("warmup", w.epochs, ckpt),
        progress=progress,
        amp=amp,
    )
    encoder.train()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON-able: {type(obj).__name__}")


def run_experiment(
    cfg: ExperimentConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    after_checkpoint: Callable[[int], None] | None = None,
    stages: tuple[str, ...] = STAGES,
) -> RunResult:
    """Run every selected split and seed of ``cfg`` into a run folder and write the report.

    Args:
        cfg: the experiment.
        out: the run folder (default ``<cfg.out_dir>/<cfg.name>``).
        resume: continue the run already in ``out``.
        progress: rich progress bars on stderr.
        after_checkpoint: test hook, called after each pretraining checkpoint.
        stages: the stages to run (see :func:`run_unit`); the report needs "linear".

    Under torchrun the process group this call creates is destroyed when it returns
    or fails (one made by the caller is left alone).
    """
    owns_group = not (torch.distributed.is_available() and torch.distributed.is_initialized())
    ctx = init_distributed(cfg.device)
    try:
        return _run_units(cfg, out, ctx, resume, progress, after_checkpoint, stages)
    finally:
        if owns_group and ctx.distributed:
            cleanup()  # before exit: gloo/NCCL threads must not outlive the interpreter


def _run_units(
    cfg: ExperimentConfig,
    out: str | Path | None,
    ctx: DistContext,
    resume: bool,
    progress: bool,
    after_checkpoint: Callable[[int], None] | None,
    stages: tuple[str, ...],
) -> RunResult:
    """:func:`run_experiment`'s body, in an initialised process context."""
    from aunce_rt.evaluation.report import write_report
    from aunce_rt.training.data.benchmarks import build_splits
    from aunce_rt.training.pretrain import seed_everything

    amp_dtype(ctx.device, cfg.amp)  # a precision this device cannot run fails before any folder is made
    path = Path(out) if out is not None else Path(cfg.out_dir) / cfg.name
    run = RunDir(path, cfg, resume=resume, write=ctx.is_main)
    cfg = run.cfg
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    units = []
    for seed in cfg.run_seeds:
        seed_everything(seed)
        if not ctx.is_main:
            ctx.barrier()  # the main process renders/reads caches first
        protocol, splits = build_splits(cfg.data, cache_dir=path / "cache", seed=seed)
        if ctx.is_main:
            ctx.barrier()
        for split in splits:
            unit = run_unit(
                cfg,
                protocol,
                split,
                seed,
                run,
                ctx=ctx,
                progress=progress,
                after_checkpoint=after_checkpoint,
                stages=stages,
            )
            if unit is not None:
                units.append(unit)
    report = write_report(path, cfg, [u.metrics for u in units]) if ctx.is_main and units else {}
    return RunResult(path, tuple(units), report)


def evaluate_model(model_path: str | Path, cfg: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Metrics of a saved model on the test split of each selected split of ``cfg``, at its thresholds.

    Returns:
        split name -> ``AUMetrics.to_dict`` of the model's AUs (those of the protocol, in model order).
    """
    from aunce_rt.evaluation.metrics import au_metrics
    from aunce_rt.models import load_model
    from aunce_rt.training.data.benchmarks import build_splits
    from aunce_rt.training.features import extract_features

    loaded = load_model(model_path)
    protocol, splits = build_splits(cfg.data, cache_dir=Path(model_path).parent / "cache", seed=cfg.seed)
    missing = [c for c in loaded.au_codes if c not in protocol.au_codes]
    if missing:
        raise InputError(
            f"model {model_path} predicts AUs {list(loaded.au_codes)}; protocol {protocol.name} lacks {missing}"
        )
    out = {}
    for split in splits:
        test = split.test.select_aus(loaded.au_codes)
        feats = extract_features(
            loaded.model.encoder,
            AUDataset(test, cfg.data.crop_size),
            image_size=cfg.data.image_size,
            resize=cfg.data.crop_size,
        )
        with torch.no_grad():
            probs = torch.sigmoid(loaded.model.probe(feats.features)).numpy()
        metrics = au_metrics(probs, test.labels, np.asarray(loaded.thresholds))
        out[split.name] = metrics.to_dict(loaded.au_codes)
    return out
