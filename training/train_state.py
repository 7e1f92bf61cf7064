"""A training run's state: model, AdamW, loss, RNGs, step count and learning-rate schedule.

:class:`TrainState` holds everything a run needs to take one more step and to
resume; :func:`start_train_state` is the one place a run starts (seeding, the
training split's occurrence rates r_i and class weights w_i (Eq. 1), resuming).

Learning rate: constant (the paper), or ``schedule="cosine"``: a linear ramp over
the first 5% of the steps, then a cosine decay to zero at the last step. The rate
is a function of the step count alone, so a resumed run continues on the curve.

Optimiser: AdamW, betas (0.9, 0.999) by default (``OptimConfig.betas``), wd 1e-6,
lr 1e-5 (the paper's fine-tuning rate for an ImageNet-pretrained Swin; a randomly
initialised encoder needs ~1e-3).

Example:
    >>> rates, weights = label_statistics(labels)                      # doctest: +SKIP
    >>> state = make_train_state(enc, occurrence=rates, au_weights=weights)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from aunce_rt.errors import InputError
from aunce_rt.models import AUModel, AUProbe, PooledClassifier
from aunce_rt.training.losses import AUNCELoss, WCELoss, WFLoss, au_class_weights, occurrence_rates
from aunce_rt.training.rng import global_rng_state, seed_everything, set_global_rng_state

log = logging.getLogger(__name__)

__all__ = [
    "HEADS",
    "LOSSES",
    "SCHEDULES",
    "TrainState",
    "build_loss",
    "check_not_autocast",
    "label_statistics",
    "make_train_state",
    "scheduled_lr",
    "start_train_state",
]

LOSSES: tuple[str, ...] = ("aunce", "wce", "wfl", "clp")
HEADS: tuple[str, ...] = ("probe", "pooled")
SCHEDULES: tuple[str, ...] = ("constant", "cosine")
WARMUP_FRACTION = 0.05
Gather = Callable[[torch.Tensor], torch.Tensor]


def build_loss(name: str, loss_kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """The loss module for an objective name ("aunce", "wce" or "wfl")."""
    kwargs = dict(loss_kwargs or {})
    if name == "aunce":
        return AUNCELoss(**kwargs)
    if name == "wce":
        return WCELoss(**kwargs)
    if name == "wfl":
        return WFLoss(**kwargs)
    raise InputError(f"unknown pretraining loss {name!r}; expected one of {', '.join(LOSSES)}")


@dataclass
class TrainState:
    """Everything a training run needs to take one more step, and to resume.

    Attributes:
        model: the module being trained: the encoder for "aunce" (forward -> (B, N, C)),
            an ``AUModel`` (encoder + probe, forward -> logits (B, N)) for "wce"/"wfl".
        optimizer: AdamW over ``model``'s parameters.
        loss_name: "aunce", "wce" or "wfl".
        loss_fn: the loss module (see :func:`build_loss`).
        occurrence: (N,) occurrence rates r_i of the training labels (-1 ignored).
        au_weights: (N,) class weights w_i (Eq. 1, sum to N).
        loss_generator: RNG of the AUNCE positive sampling.
        loader_generator: RNG of the training loader's shuffling and worker seeds.
        epoch: epochs completed.
        step: optimiser steps taken.
        history: mean training loss of each completed epoch.
        gather: all-gather along dim 0 across processes (identity when None).
        base_lr: the peak learning rate.
        schedule: "constant" or "cosine" (see :func:`scheduled_lr`).
        total_steps: optimiser steps of the whole run (the cosine's end).
        amp: autocast dtype of each step's forward and loss (None: float32); see
            :func:`autocast_step`. float16 steps use dynamic loss scaling (``scaler``,
            saved in the checkpoint so a resumed run keeps its scale).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_name: str
    loss_fn: nn.Module
    occurrence: torch.Tensor
    au_weights: torch.Tensor
    loss_generator: torch.Generator
    loader_generator: torch.Generator
    epoch: int = 0
    step: int = 0
    history: list[float] = field(default_factory=list)
    gather: Gather | None = None
    base_lr: float = 1e-5
    schedule: str = "constant"
    total_steps: int = 0
    amp: torch.dtype | None = None
    scaler: Any = None  # torch.amp.GradScaler of a float16 run (made on its first step)

    @property
    def views(self) -> int:
        """Augmented views per image: 2 for contrastive pretraining, else 1."""
        return 2 if self.loss_name in ("aunce", "clp") else 1

    @property
    def module(self) -> nn.Module:
        """The module being trained, without a DistributedDataParallel wrapper."""
        return getattr(self.model, "module", self.model)

    def state_dict(self) -> dict[str, Any]:
        """Tensors and primitives only (loadable with ``torch.load(weights_only=True)``)."""
        rng = {
            **global_rng_state(),
            "loss_generator": self.loss_generator.get_state(),
            "loader_generator": self.loader_generator.get_state(),
        }
        out = {
            "loss_name": self.loss_name,
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "history": list(self.history),
            "rng": rng,
        }
        if self.scaler is not None:
            out["scaler"] = self.scaler.state_dict()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (same loss, same model architecture)."""
        if state.get("loss_name", self.loss_name) != self.loss_name:
            raise InputError(
                f"cannot resume a {state['loss_name']!r} run with loss={self.loss_name!r}; "
                f"pass loss={state['loss_name']!r}"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.history = [float(v) for v in state["history"]]
        if state.get("scaler") and self.scaler is not None:
            self.scaler.load_state_dict(state["scaler"])
        rng = state.get("rng", {})
        set_global_rng_state(rng)
        if "loss_generator" in rng:
            self.loss_generator.set_state(rng["loss_generator"])
        if "loader_generator" in rng:
            self.loader_generator.set_state(rng["loader_generator"])


def label_statistics(labels: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Occurrence rates r_i and class weights w_i (Eq. 1) of training labels (S, N), -1 masked."""
    y = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
    if y.ndim != 2:
        raise InputError(f"training labels must have shape (S, N); got {tuple(y.shape)}")
    rates = torch.as_tensor(occurrence_rates(y), dtype=torch.float32)
    weights = torch.as_tensor(au_class_weights(y), dtype=torch.float32)
    return rates, weights


def scheduled_lr(base_lr: float, step: int, total_steps: int, schedule: str = "constant") -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total_steps``.

    "constant": ``base_lr``. "cosine": a linear ramp to ``base_lr`` over the first 5%
    of the steps, then a half cosine down to 0 at the last step.

    Example:
        >>> scheduled_lr(1.0, 0, 100, "cosine"), scheduled_lr(1.0, 5, 100, "cosine")
        (0.2, 1.0)
    """
    if schedule not in SCHEDULES:
        raise InputError(
            f"unknown learning-rate schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}"
        )
    if schedule == "constant" or total_steps <= 0:
        return base_lr
    warm = max(1, round(WARMUP_FRACTION * total_steps))
    if step < warm:
        return base_lr * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total_steps - warm))
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * t))


OPTIMIZERS = ("adamw", "sgd")


def make_optimizer(
    params: list[nn.Parameter],
    name: str = "adamw",
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """AdamW (``betas``; the project's default) or SGD with ``momentum`` (CLP's spec: 0.9).

    Raises:
        InputError: an unknown optimiser name.
    """
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise InputError(f"unknown optimiser {name!r}; expected one of {', '.join(OPTIMIZERS)}")


def make_train_state(
    encoder: nn.Module,
    *,
    loss: str = "aunce",
    head: str = "probe",
    schedule: str = "constant",
    total_steps: int = 0,
    occurrence: torch.Tensor,
    au_weights: torch.Tensor,
    lr: float = 1e-5,
    weight_decay: float = 1e-6,
    betas: tuple[float, float] = (0.9, 0.999),
    seed: int = 3407,
    loss_kwargs: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    optimizer_name: str = "adamw",
    momentum: float = 0.9,
) -> TrainState:
    """Build the model, optimiser, loss and RNGs of a run (seed the globals first).

    Args:
        encoder: an ``AUEncoder`` (``aunce_rt.models.create_encoder``).
        loss: "aunce", "wce" or "wfl".
        head: for "wce"/"wfl": "probe" (the per-AU probe on the encoder's features) or
            "pooled" (a linear layer on the backbone's pooled tokens: the warm-up).
        schedule: learning-rate schedule, "constant" or "cosine".
        total_steps: optimiser steps of the run (needed by "cosine").
        occurrence: (N,) training occurrence rates r_i.
        au_weights: (N,) class weights w_i.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        betas: AdamW's (beta1, beta2) (paper: 0.9, 0.999).
        seed: seed of the loss-sampling and loader generators.
        optimizer_name: "adamw" (default) or "sgd" (`make_optimizer`).
        momentum: SGD's momentum (unused by AdamW).
        loss_kwargs: keyword arguments of the loss class.
        device: where the model and loss tensors live.
    """
    if head not in HEADS:
        raise InputError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}")
    if head == "pooled" and loss == "aunce":
        raise InputError("head='pooled' trains the backbone with a supervised loss; use loss='wce' or 'wfl'")
    scheduled_lr(lr, 0, total_steps, schedule)  # validates the schedule name
    # "clp": ``encoder`` is a ``CLPObjective``, whose forward returns the loss terms; it is also the loss.
    loss_fn = encoder if loss == "clp" else build_loss(loss, loss_kwargs)
    device = torch.device(device)
    model: nn.Module = encoder
    if loss == "clp":
        pass
    elif head == "pooled":
        model = PooledClassifier(encoder)
    elif loss != "aunce":
        model = AUModel(encoder, AUProbe(int(encoder.num_aus), int(encoder.node_dim)))
    model = model.to(device)
    # CLP's momentum encoder is not trained; other runs keep every parameter (their checkpoints' optimiser order).
    trainable = (
        [p for p in model.parameters() if p.requires_grad] if loss == "clp" else list(model.parameters())
    )
    optimizer = make_optimizer(
        trainable, optimizer_name, lr=lr, weight_decay=weight_decay, betas=betas, momentum=momentum
    )
    loss_gen = torch.Generator(device=device)
    loss_gen.manual_seed(seed)
    loader_gen = torch.Generator()
    loader_gen.manual_seed(seed)
    return TrainState(
        model=model,
        optimizer=optimizer,
        loss_name=loss,
        loss_fn=loss_fn.to(device),
        occurrence=occurrence.to(device),
        au_weights=au_weights.to(device),
        loss_generator=loss_gen,
        loader_generator=loader_gen,
        base_lr=lr,
        schedule=schedule,
        total_steps=total_steps,
    )


def check_not_autocast(device: str | torch.device) -> None:
    """Refuse a training loop started inside ``torch.autocast`` (its weight cache would freeze the weights)."""
    kind = torch.device(device).type
    if torch.is_autocast_enabled(kind):
        raise InputError(
            f"training was started inside torch.autocast({kind!r}): autocast caches the cast weights "
            "for the whole context, so the model would keep using its first step's weights. "
            "Pass amp=torch.bfloat16 (or float16 on CUDA) to the training function instead"
        )


def start_train_state(
    encoder: nn.Module,
    labels: np.ndarray | torch.Tensor | None,
    *,
    loss: str,
    lr: float,
    weight_decay: float,
    seed: int,
    betas: tuple[float, float] = (0.9, 0.999),
    loss_kwargs: Mapping[str, Any] | None,
    device: str | torch.device,
    resume: Mapping[str, Any] | None = None,
    head: str = "probe",
    schedule: str = "constant",
    total_steps: int = 0,
    amp: torch.dtype | None = None,
    optimizer: str = "adamw",
    momentum: float = 0.9,
) -> TrainState:
    """Seed, build the run's state from the training labels (r_i, w_i) and resume it if asked.

    The one place a training run starts (every stage and :func:`~aunce_rt.training.pretrain.pretrain`);
    it refuses to start inside ``torch.autocast`` (see :func:`check_not_autocast`).
    """
    check_not_autocast(device)
    if labels is None and loss != "clp":
        raise InputError(f"loss {loss!r} needs the training labels (S, N); only 'clp' trains without labels")
    occurrence, au_weights = (
        label_statistics(labels) if labels is not None else (torch.zeros(0), torch.zeros(0))
    )
    seed_everything(seed)
    state = make_train_state(
        encoder,
        loss=loss,
        head=head,
        schedule=schedule,
        total_steps=total_steps,
        occurrence=occurrence,
        au_weights=au_weights,
        lr=lr,
        weight_decay=weight_decay,
        betas=betas,
        seed=seed,
        loss_kwargs=loss_kwargs,
        device=device,
        optimizer_name=optimizer,
        momentum=momentum,
    )
    state.amp = amp
    if amp == torch.float16:  # fp16 gradients underflow without loss scaling
        state.scaler = torch.amp.GradScaler(torch.device(device).type)
    if resume is not None:
        state.load_state_dict(resume)
        log.info("resumed %s pretraining at epoch %d, step %d", loss, state.epoch, state.step)
    return state
