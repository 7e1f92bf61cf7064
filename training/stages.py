"""The training stages of a run, each taking its typed config sections.

- :func:`warm_up_backbone`: the optional warm-up (``cfg.warmup``): WCE on the
  backbone's pooled tokens, the stand-in for ImageNet weights.
- :func:`pretrain_encoder`: the pretraining stage (``cfg.pretrain``, ``cfg.loss``):
  AUNCE, or WCE/WFL end to end; under torchrun with DDP.
- :func:`fit_linear_probe`: linear evaluation (``cfg.linear``) of the frozen encoder.

Each reads its sections here, once, and calls the library functions
(:func:`~aunce_rt.training.pretrain.pretrain`, which runs the one loop
:func:`~aunce_rt.training.loop.fit`, and ``linear_eval``).

Example:
    >>> pre = pretrain_encoder(enc, train_ds, cfg.pretrain, cfg.loss, cfg.data, seed=0, ctx=DistContext())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aunce_rt.training.callbacks import TrainCallbacks
from aunce_rt.training.checkpoints import read_checkpoint, train_state_of
from aunce_rt.training.config import DataConfig, LossConfig, ModelConfig, OptimConfig
from aunce_rt.training.distributed import DistContext
from aunce_rt.training.linear_eval import LinearEvalResult, linear_eval
from aunce_rt.training.pretrain import PretrainResult, TrainState, pretrain

logger = logging.getLogger(__name__)

__all__ = ["fit_linear_probe", "loss_kwargs", "make_encoder", "pretrain_encoder", "warm_up_backbone"]

EpochHook = Callable[[TrainState], None]


def loss_kwargs(loss: LossConfig) -> dict[str, Any]:
    """Keyword arguments of the pretraining loss class from the loss section."""
    if loss.name == "aunce":
        return {
            "temperature": loss.temperature,
            "probs": tuple(loss.probs),
            "num_positives": loss.num_positives,
            "beta_minority": loss.beta_minority,
            "beta_majority": loss.beta_majority,
            "minority": loss.minority,
            "au_weighted": loss.au_weighted,
        }
    if loss.name == "wfl":
        return {"gamma": loss.gamma}
    return {}


def make_encoder(model: ModelConfig, num_aus: int) -> nn.Module:
    """The encoder of the model section (random init unless ``init_weights``)."""
    from aunce_rt.models import create_encoder

    return create_encoder(
        model.backbone,
        num_aus,
        node_dim=model.node_dim,
        top_k=model.top_k,
        init_weights=model.init_weights or None,
        dropout=model.dropout,
        input_norm=model.input_norm,
    )


def optim_kwargs(optim: OptimConfig) -> dict[str, Any]:
    """The keyword arguments a stage's optimiser section gives ``pretrain``/``linear_eval``."""
    return {
        "lr": optim.lr,
        "weight_decay": optim.weight_decay,
        "betas": tuple(optim.betas),
        "optimizer": optim.optimizer,
        "momentum": optim.momentum,
        "batch_size": optim.batch_size,
        "schedule": optim.schedule,
    }


def _views(data: DataConfig) -> dict[str, Any]:
    """The keyword arguments the data section gives ``pretrain`` (view making and loading)."""
    return {
        "image_size": data.image_size,
        "resize": data.crop_size,
        "num_workers": data.num_workers,
        "augment": data.augment,
    }


def warm_up_backbone(
    encoder: nn.Module,
    train_ds: Any,
    warmup: OptimConfig,
    data: DataConfig,
    *,
    ckpt: Path,
    seed: int,
    device: torch.device,
    on_epoch_end: EpochHook,
    truncate: Callable[[int], None],
    amp: torch.dtype | None = None,
    callbacks: TrainCallbacks | None = None,
) -> None:
    """The warm-up stage: train ``encoder``'s backbone in place with WCE on its pooled tokens.

    Resumes from ``ckpt`` (a finished one just restores the weights). Under torchrun
    every process runs it alike on the whole split (same seed, same weights). The
    per-AU blocks and graph layer are left at their initialisation for pretraining.

    Args:
        truncate: called with the resumed epoch (drops metric rows written past it).
    """
    resume = None
    if ckpt.is_file():
        payload = read_checkpoint(ckpt)
        resume = train_state_of(payload)
        truncate(int(payload["epoch"]))
        logger.info("resuming the backbone warm-up from epoch %d (%s)", payload["epoch"], ckpt)
    pretrain(
        encoder,
        train_ds,
        loss="wce",
        head="pooled",
        epochs=warmup.epochs,
        seed=seed,
        device=device,
        resume=resume,
        on_epoch_end=on_epoch_end,
        callbacks=callbacks,
        amp=amp,
        stage="warmup",
        **optim_kwargs(warmup),
        **_views(data),
    )
    encoder.train()


def pretrain_encoder(
    encoder: nn.Module,
    train_ds: Any,
    optim: OptimConfig,
    loss: LossConfig,
    data: DataConfig,
    *,
    seed: int,
    ctx: DistContext,
    resume: Mapping[str, Any] | None = None,
    on_epoch_end: EpochHook | None = None,
    amp: torch.dtype | None = None,
    callbacks: TrainCallbacks | None = None,
) -> PretrainResult:
    """The pretraining stage: ``loss`` for ``optim.epochs`` epochs (at least 1), DDP under torchrun.

    ``optim.batch_size`` is the GLOBAL batch under torchrun (each of the W processes
    takes batch_size / W images; AUNCE sees the gathered global batch).
    """
    return pretrain(
        encoder,
        train_ds,
        loss=loss.name,
        loss_kwargs=loss_kwargs(loss),
        epochs=max(optim.epochs, 1),
        seed=seed,
        device=ctx.device,
        resume=resume,
        on_epoch_end=on_epoch_end,
        callbacks=callbacks,
        amp=amp,
        ctx=ctx,
        stage="pretrain",
        **optim_kwargs(optim),
        **_views(data),
    )


def fit_linear_probe(
    encoder: nn.Module,
    train_ds: Any,
    val_ds: Any,
    test_ds: Any,
    linear: OptimConfig,
    data: DataConfig,
    *,
    seed: int,
    device: torch.device,
    callbacks: TrainCallbacks | None = None,
) -> LinearEvalResult:
    """Linear evaluation: one probe per AU on the frozen encoder, epoch chosen on ``val_ds``."""
    return linear_eval(
        encoder,
        train_ds,
        val_ds,
        test_ds,
        epochs=linear.epochs,
        seed=seed,
        device=device,
        image_size=data.image_size,
        resize=data.crop_size,
        callbacks=callbacks,
        **optim_kwargs(linear),
    )
