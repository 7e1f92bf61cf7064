"""Encoder pretraining: AUNCE contrastive learning, or WCE/WFL end to end (baselines).

:func:`pretrain` is the keyword entry point over the pieces every stage shares:
:func:`~aunce_rt.training.train_state.start_train_state` (model, AdamW, loss, RNGs,
resume), :func:`~aunce_rt.training.loop.make_loader` and the one training loop
:func:`~aunce_rt.training.loop.fit`. With a multi-process ``ctx`` (torchrun) it adds
only DDP, the ``DistributedSampler`` and the all-gather of features.

- ``loss="aunce"`` (paper Sec. 3): two SimCLR views per image; the probe is not
  trained here: use ``linear_eval``.
- ``loss="clp"`` (CLP as reconstructed here, spec/CLP.md): ``encoder`` is a
  ``training.clp_objective.CLPObjective`` and ``data`` a ``training.data.clips.ClipDataset``;
  no labels; the returned encoder is the online ``models.clp.CLPNet``.
- ``loss="wce"`` / ``"wfl"``: one view per image, encoder + linear probe trained
  end to end with weighted cross-entropy / weighted focal loss (Table 8 baselines).
  With ``head="pooled"`` the probe is replaced by one linear layer on the backbone's
  mean-pooled tokens (``models.PooledClassifier``): the supervised backbone warm-up
  that stands in for ImageNet weights when training from random init.

The names this module used to hold (``TrainState``, ``train_step``, ...) are
re-exported from their modules: ``train_state``, ``step``, ``loop``, ``rng``.

Example:
    >>> from aunce_rt.models import create_encoder
    >>> enc = create_encoder("mobilenetv3_large_100", 12)   # doctest: +SKIP
    >>> result = pretrain(enc, dataset, loss="aunce", epochs=1, lr=1e-3)  # doctest: +SKIP
    >>> result.history  # mean loss per epoch                 # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from aunce_rt.align import INPUT_SIZE
from aunce_rt.errors import InputError
from aunce_rt.models import AUModel, PooledClassifier
from aunce_rt.training.augment import dataset_labels
from aunce_rt.training.callbacks import EpochSummary, TrainCallbacks
from aunce_rt.training.distributed import DistContext, wrap_ddp
from aunce_rt.training.loop import fit, make_loader, train_one_epoch
from aunce_rt.training.rng import seed_everything
from aunce_rt.training.step import autocast_step, compute_loss, train_step
from aunce_rt.training.train_state import (
    HEADS,
    LOSSES,
    SCHEDULES,
    TrainState,
    build_loss,
    check_not_autocast,
    label_statistics,
    make_train_state,
    scheduled_lr,
    start_train_state,
)

log = logging.getLogger(__name__)

__all__ = [
    "HEADS",
    "LOSSES",
    "SCHEDULES",
    "EpochSummary",
    "PretrainResult",
    "TrainCallbacks",
    "TrainState",
    "autocast_step",
    "build_loss",
    "check_not_autocast",
    "compute_loss",
    "fit",
    "label_statistics",
    "make_loader",
    "make_train_state",
    "pretrain",
    "scheduled_lr",
    "seed_everything",
    "start_train_state",
    "train_one_epoch",
    "train_step",
]


@dataclass(frozen=True)
class PretrainResult:
    """What :func:`pretrain` returns.

    Attributes:
        encoder: the trained encoder (in eval mode).
        model: encoder + trained probe for "wce"/"wfl"; None for "aunce" (fit a probe
            with ``aunce_rt.training.linear_eval.linear_eval``).
        loss_name: the objective that was optimised.
        history: mean training loss per epoch, (epochs,).
        seconds: wall time of the training loop.
        state: the final :class:`TrainState` (for checkpoints).
    """

    encoder: nn.Module
    model: AUModel | None
    loss_name: str
    history: tuple[float, ...]
    seconds: float
    state: TrainState


def pretrain(
    encoder: nn.Module,
    data: Dataset | DataLoader,
    *,
    loss: str = "aunce",
    head: str = "probe",
    schedule: str = "constant",
    epochs: int = 60,
    lr: float = 1e-5,
    weight_decay: float = 1e-6,
    betas: tuple[float, float] = (0.9, 0.999),
    optimizer: str = "adamw",
    momentum: float = 0.9,
    batch_size: int = 32,
    seed: int = 3407,
    loss_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    image_size: int = INPUT_SIZE,
    resize: int | None = None,
    num_workers: int = 0,
    augment: str = "simclr",
    labels: np.ndarray | None = None,
    max_steps_per_epoch: int | None = None,
    resume: Mapping[str, Any] | None = None,
    on_epoch_end: Callable[[TrainState], None] | None = None,
    callbacks: TrainCallbacks | None = None,
    amp: torch.dtype | None = None,
    ctx: DistContext | None = None,
    stage: str | None = None,
) -> PretrainResult:
    """Pretrain ``encoder`` with AUNCE, or train it end to end with WCE/WFL.

    Args:
        encoder: an ``AUEncoder`` from ``aunce_rt.models.create_encoder`` (trained in place).
        data: a dataset of ``(image BGR ndarray | (3,H,W) uint8 RGB tensor, labels (N,))``
            (views are made here), or a ready ``DataLoader`` of views.
        loss: "aunce" (contrastive, two views), "wce" or "wfl" (end to end, one view).
        head: "probe" or, for "wce"/"wfl", "pooled" (backbone warm-up; see module doc).
        schedule: learning-rate schedule, "constant" (paper) or "cosine".
        epochs: total epochs (a resumed run continues up to this number).
        lr: AdamW learning rate (1e-5 = paper, for a pretrained backbone).
        weight_decay: AdamW weight decay.
        betas: AdamW's (beta1, beta2) (paper: 0.9, 0.999).
        batch_size: images per batch (each seen twice for AUNCE); under torchrun the
            GLOBAL batch, split over the processes.
        seed: seeds every RNG (paper: 3407).
        loss_kwargs: keyword arguments of the loss class.
        device: "cpu" or "cuda[:i]".
        image_size: network input side (random crop from the stored crop).
        resize: resize stored crops to this side before cropping (None = as stored).
        num_workers: DataLoader worker processes.
        augment: view augmentation, "simclr" (paper) or "light" (see ``train_transform``).
        labels: training labels (S, N) for r_i and w_i; read from ``data`` when None.
        max_steps_per_epoch: cap on batches per epoch (quick runs).
        resume: a :meth:`TrainState.state_dict` to continue from.
        on_epoch_end: called with the state after every epoch (checkpoints, logging).
        callbacks: progress hooks (the CLI passes its progress bars).
        amp: mixed precision: the autocast dtype of every step's forward and loss
            (``torch.bfloat16`` on CPU or CUDA, ``torch.float16`` on CUDA), None for
            float32. Weights and optimiser state stay float32. Pass it here; do not
            wrap this call in ``torch.autocast`` (refused: see ``autocast_step``).
        ctx: the torchrun process context; a multi-process one trains with DDP, a
            ``DistributedSampler`` and AUNCE negatives gathered from every process.
        stage: the name progress and logs show (default: the loss name).

    Returns:
        A :class:`PretrainResult` with the trained encoder, per-epoch loss history and state.
    """
    if loss not in LOSSES:
        raise InputError(f"unknown pretraining loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if epochs < 1:
        raise InputError(f"epochs must be >= 1; got {epochs}")
    train_labels = labels if labels is not None or loss == "clp" else dataset_labels(data)
    if train_labels is None and loss != "clp":
        raise InputError(
            "cannot find the training labels to compute occurrence rates; "
            "pass labels=(S, N) array or a dataset with a .labels attribute"
        )
    state = start_train_state(
        encoder,
        train_labels,
        loss=loss,
        lr=lr,
        weight_decay=weight_decay,
        betas=betas,
        optimizer=optimizer,
        momentum=momentum,
        seed=seed,
        loss_kwargs=loss_kwargs,
        device=device,
        resume=resume,
        head=head,
        schedule=schedule,
        amp=amp,
    )
    distributed = ctx is not None and ctx.distributed
    if distributed:  # DDP adds the wrapper, the gather of features and (below) the sampler
        seed_everything(seed + 1000 * ctx.rank + state.epoch)  # distinct augmentations per process
        # CLP: a batch of one identity (or clp.cir off) leaves the decoder out of the loss;
        # its keys are gathered from every process into one queue (CLPObjective.forward)
        state.model = wrap_ddp(state.model, ctx, find_unused_parameters=loss == "clp")
        state.gather = ctx.gather
    loader = make_loader(
        data,
        views=state.views,
        batch_size=batch_size,
        generator=state.loader_generator,
        image_size=image_size,
        resize=resize,
        num_workers=num_workers,
        augment=augment,
        ctx=ctx,
        seed=seed,
    )
    seconds = fit(
        state,
        loader,
        epochs=epochs,
        device=device,
        stage=stage,
        max_steps_per_epoch=max_steps_per_epoch,
        on_epoch_end=on_epoch_end,
        callbacks=callbacks,
    )
    state.model = state.module  # the DDP wrapper off
    state.model.eval()
    model = state.model if isinstance(state.model, AUModel) else None
    enc = state.model.encoder if isinstance(state.model, AUModel | PooledClassifier) else state.model
    enc = getattr(enc, "net", enc) if loss == "clp" else enc  # CLP: the online CLPNet
    return PretrainResult(
        encoder=enc,
        model=model,
        loss_name=loss,
        history=tuple(state.history),
        seconds=seconds,
        state=state,
    )
